#pragma once
// A VkPipelineCache persisted under the user's cache directory, one file per device UUID and driver
// version; a file whose header does not match the device is ignored (and later overwritten).
#include <vulkan/vulkan.h>

#include <string>

#include "runtime/clock.hpp"  // utc_now, which the cache files (roofline, tuning) record
#include "runtime/vk_handles.hpp"
#include "vkattn/device.hpp"

namespace vkattn::detail {

class PipelineCache {
public:
    /// `directory` empty: $XDG_CACHE_HOME/vkattn or $HOME/.cache/vkattn; "none": in memory only.
    PipelineCache(VkDevice device, const DeviceInfo& info, const std::string& directory);
    ~PipelineCache();
    VkPipelineCache get() const { return cache_.get(); }
    /// Writes the cache to disk (atomically) if it is persistent, merged with what the file holds
    /// by then. Errors are ignored: a cache is optional.
    void save() const;
    const std::string& path() const { return path_; }
    bool loaded_from_disk() const { return loaded_; }

private:
    VkDevice device_;
    DeviceInfo info_;  // identifies files of this device's caches
    UniquePipelineCache cache_;
    std::string path_;
    bool loaded_ = false;
};

/// The directory the cache uses by default.
std::string default_cache_directory();

/// Lower-case hex of the device's pipeline-cache UUID: with the driver version, what identifies a
/// per-device cache file (pipelines, roofline figures).
std::string pipeline_cache_uuid_hex(const DeviceInfo& info);

/// Writes `bytes` to `path` through a temporary file and a rename, creating the directory, so that
/// concurrent processes never see half a file. Returns false (and leaves nothing behind) on failure:
/// caches are optional.
bool write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace vkattn::detail
