//! The widget's entry point, called when `leadgate.js` has loaded the wasm.
#![cfg_attr(target_arch = "wasm32", warn(clippy::disallowed_types, clippy::disallowed_macros))]

// The allocator stays std's dlmalloc (built for size with the rest of std): lol_alloc's
// `LockedAllocator<FreeListAllocator>` measured 193 B brotli *bigger* (its free list is not
// smaller than dlmalloc at opt-level "z", and it never merges free blocks); talc and lol_alloc's
// `AssumeSingleThreaded` need `unsafe`, which the workspace forbids.

fn main() {
    // The shipped build aborts on a panic at once (scripts/wasm-release-env.sh), before any
    // hook runs: the hook would only add its formatting code to the wasm. Other builds (a
    // plain `trunk build`) keep it, for a readable message in the console.
    #[cfg(not(panic = "immediate-abort"))]
    console_error_panic_hook::set_once();
    leadgate::start();
}
