-- Lmod modulefile for h5doctor 0.1.0. Install the two binaries into <prefix>/bin and site rules (if any)
-- into <prefix>/rules.d, then put this file at <modulepath>/h5doctor/0.1.0.lua and set `prefix` below.
help([[
h5doctor: finds out why HDF5 I/O fails or will fail on this node, and what exactly to change.
  h5doctor check --dir $SCRATCH        before a job
  h5doctor explain lock-unsupported    what a finding means
]])
whatis("Name: h5doctor")
whatis("Version: 0.1.0")
whatis("Description: HDF5 I/O diagnostics for HPC nodes (file locking, HDF5 libraries, ...)")

local prefix = "/opt/h5doctor/0.1.0"
prepend_path("PATH", pathJoin(prefix, "bin"))
-- h5doctor finds h5doctor-probe next to itself; the variable makes it explicit.
setenv("H5DOCTOR_PROBE", pathJoin(prefix, "bin", "h5doctor-probe"))
if isDir(pathJoin(prefix, "rules.d")) then
  prepend_path("H5DOCTOR_RULES_PATH", pathJoin(prefix, "rules.d"))
end
