#pragma once
// A test "application": its own Vulkan instance (with the validation layer and, when the suite runs
// with VKATTN_VALIDATION=sync, synchronization validation; its own debug messenger counts every warning
// and error), device, queue, host-visible buffers and command buffers, for the tests that embed vkattn
// in someone else's Vulkan world (tests/embedding_test.cpp, tests/reliability/concurrency_test.cpp).
#include <vulkan/vulkan.h>

#include <atomic>
#include <mutex>

#include <vkattn/embedding.hpp>

namespace vkattn::test {

/// One host-visible, coherent buffer of the application's, mapped.
struct AppBuffer {
    VkDevice device = VK_NULL_HANDLE;
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    void* mapped = nullptr;
    VkDeviceSize size = 0;
    VkBufferUsageFlags usage = 0;
    ApplicationBuffer app() const { return {buffer, size, usage}; }
    float* floats() const { return static_cast<float*>(mapped); }
    AppBuffer() = default;
    AppBuffer(const AppBuffer&) = delete;
    AppBuffer& operator=(const AppBuffer&) = delete;
    ~AppBuffer();
};

class Application {
public:
    /// `validation`: the validation layer on (the default; the TSan step turns it off, see
    /// VKATTN_RELIABILITY_NO_VALIDATION).
    explicit Application(bool enable_float16, bool validation = true);
    /// Destroys the device; the validation layer then reports any object created on it that is still alive.
    void destroy_device();
    ~Application();
    Application(const Application&) = delete;
    Application& operator=(const Application&) = delete;

    AdoptedDevice adopted() const;
    void make_buffer(AppBuffer& b, VkDeviceSize size, VkBufferUsageFlags usage) const;
    /// A primary command buffer of the application's, in the recording state (from the application's
    /// own pool: one thread at a time, like every pool).
    VkCommandBuffer begin();
    /// Ends `cmd` with a barrier that makes compute and transfer writes visible to the host, submits it
    /// `times` times (waiting for each; under queue_mutex when given) and frees it.
    void submit_and_wait(VkCommandBuffer cmd, int times = 1, std::mutex* queue_mutex = nullptr);

    std::atomic<int> messages{0};
    VkCommandPool command_pool = VK_NULL_HANDLE;
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t family = 0;
    VkQueue queue = VK_NULL_HANDLE;
    bool float16 = false;
    VkPhysicalDeviceMemoryProperties memory{};
};

}  // namespace vkattn::test
