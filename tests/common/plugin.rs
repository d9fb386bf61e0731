//! The test HDF5 filter plugin's C source, one definition for every test that builds a plugin
//! (tests/plugins.rs, tests/module_fixes.rs): a minimal filter (id 257, from the ids HDF5 keeps for testing)
//! written without HDF5's headers, linked against `libhdf5` so that its DT_NEEDED names it.
//!
//! Two switches at compile time: `-DCRASH` gives it a constructor that crashes; `-DEXTRA_LIBRARY=name`
//! makes its filter call `int name(void)` from another library, so that the plugin needs that library too.

/// The plugin's C source (see the module doc for its `-D` switches).
pub const PLUGIN_C: &str = r#"
#include <stddef.h>
typedef struct {
    int version; int id; unsigned encoder_present; unsigned decoder_present; const char *name;
    void *can_apply; void *set_local;
    size_t (*filter)(unsigned, size_t, const unsigned *, size_t, size_t *, void **);
} h5z_class2;
extern int H5open(void);
#ifdef EXTRA_LIBRARY
extern int EXTRA_LIBRARY(void);
#define FACTOR ((size_t)EXTRA_LIBRARY())
#else
#define FACTOR ((size_t)1)
#endif
static size_t passthrough(unsigned f, size_t n, const unsigned *cd, size_t nbytes, size_t *size, void **buf) {
    (void)f; (void)n; (void)cd; (void)size; (void)buf; return nbytes * FACTOR;
}
static const h5z_class2 CLASS = {1, 257, 1, 1, "h5doctor test filter", NULL, NULL, passthrough};
int H5PLget_plugin_type(void) { return 0; }
const void *H5PLget_plugin_info(void) { H5open(); return &CLASS; }
#ifdef CRASH
__attribute__((constructor)) static void crash(void) { *(volatile int *)0 = 1; }
#endif
"#;
