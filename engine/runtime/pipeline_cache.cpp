#include "runtime/pipeline_cache.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "runtime/test_seams.hpp"
#include "runtime/vk_check.hpp"

namespace vkattn::detail {
namespace fs = std::filesystem;

std::string default_cache_directory() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/vkattn";
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/vkattn";
    return {};
}

std::string pipeline_cache_uuid_hex(const DeviceInfo& info) {
    std::string hex;
    char b[3];
    for (uint8_t byte : info.pipeline_cache_uuid) {
        std::snprintf(b, sizeof b, "%02x", byte);
        hex += b;
    }
    return hex;
}

bool write_file_atomically(const std::string& path, const std::string& bytes) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp" + std::to_string(reinterpret_cast<uintptr_t>(&bytes));
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return false;
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) {
            out.close();
            fs::remove(tmp, ec);
            return false;
        }
    }
    fs::rename(tmp, path, ec);
    if (ec) fs::remove(tmp, ec);
    return !ec;
}

namespace {

std::string cache_file_name(const DeviceInfo& info) {
    return "pipelines-" + pipeline_cache_uuid_hex(info) + "-" + std::to_string(info.driver_version) + ".bin";
}

// The header every VkPipelineCache blob starts with (VkPipelineCacheHeaderVersionOne).
bool header_matches(const std::vector<char>& blob, const DeviceInfo& info) {
    if (blob.size() < 32) return false;
    uint32_t length, version, vendor, device;
    std::memcpy(&length, blob.data(), 4);
    std::memcpy(&version, blob.data() + 4, 4);
    std::memcpy(&vendor, blob.data() + 8, 4);
    std::memcpy(&device, blob.data() + 12, 4);
    return length >= 32 && version == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && vendor == info.vendor_id &&
           device == info.device_id && std::memcmp(blob.data() + 16, info.pipeline_cache_uuid.data(), 16) == 0;
}

// The cache file's contents when it is a cache of this device, else empty.
std::vector<char> read_matching_blob(const std::string& path, const DeviceInfo& info) {
    std::vector<char> blob;
    if (path.empty()) return blob;
    std::ifstream in(path, std::ios::binary);
    if (in) blob.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!header_matches(blob, info)) blob.clear();
    return blob;
}

}  // namespace

PipelineCache::PipelineCache(VkDevice device, const DeviceInfo& info, const std::string& directory)
    : device_(device), info_(info) {
    std::string dir = directory.empty() ? default_cache_directory() : directory;
    if (dir != "none" && !dir.empty()) path_ = dir + "/" + cache_file_name(info);

    std::vector<char> blob = read_matching_blob(path_, info);
    VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    ci.initialDataSize = blob.size();
    ci.pInitialData = blob.empty() ? nullptr : blob.data();
    VkPipelineCache cache = VK_NULL_HANDLE;
    VkResult r = fault::inject_or(fault::Site::cache, [&] { return vkCreatePipelineCache(device, &ci, nullptr, &cache); });
    if (r != VK_SUCCESS && !blob.empty()) {  // a corrupt file must not stop the engine
        ci.initialDataSize = 0;
        ci.pInitialData = nullptr;
        r = fault::inject_or(fault::Site::cache, [&] { return vkCreatePipelineCache(device, &ci, nullptr, &cache); });
        blob.clear();
    }
    vk_check(r, "vkCreatePipelineCache");
    cache_ = UniquePipelineCache(device, cache);
    loaded_ = !blob.empty();
}

PipelineCache::~PipelineCache() { save(); }

void PipelineCache::save() const {
    if (path_.empty() || !cache_) return;
    // Merge what other contexts saved since this one loaded the file (contexts under other limits
    // profiles or subgroup sizes, other processes): the last writer must not drop their pipelines.
    const std::vector<char> on_disk = read_matching_blob(path_, info_);
    if (!on_disk.empty()) {
        VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
        ci.initialDataSize = on_disk.size();
        ci.pInitialData = on_disk.data();
        VkPipelineCache other = VK_NULL_HANDLE;
        if (vkCreatePipelineCache(device_, &ci, nullptr, &other) == VK_SUCCESS) {
            UniquePipelineCache owned(device_, other);
            vkMergePipelineCaches(device_, cache_.get(), 1, &other);  // failure: save ours alone
        }
    }
    size_t size = 0;
    if (vkGetPipelineCacheData(device_, cache_.get(), &size, nullptr) != VK_SUCCESS || size == 0) return;
    std::string blob(size, '\0');
    if (vkGetPipelineCacheData(device_, cache_.get(), &size, blob.data()) != VK_SUCCESS) return;
    blob.resize(size);
    write_file_atomically(path_, blob);
}

}  // namespace vkattn::detail
