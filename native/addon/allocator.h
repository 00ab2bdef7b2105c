// A caching CPU allocator for libtorch (libtorch 1.x). Training and decoding allocate the same large
// activations every step; glibc hands blocks above its mmap threshold back to the OS on free (and a worker
// thread's arena cannot grow past 64 MB anyway), so every step page-faults tens of MB back in. Blocks of at
// least 1 MB are kept per size and reused instead, up to 1 GB of idle blocks (TORCH_CAPTION_ALLOCATOR_CACHE_MB). Process-wide by nature (libtorch has one CPU allocator);
// TORCH_CAPTION_MALLOC=default disables it.
#pragma once

namespace tc {
// Installs the allocator unless disabled; returns whether it did.
bool install_caching_cpu_allocator();
}
