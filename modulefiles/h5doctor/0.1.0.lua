-- Lmod modulefile for h5doctor 0.1.0. `scripts/dev.sh install PREFIX` installs h5doctor under PREFIX and
-- this file as PREFIX/modulefiles/h5doctor/<version>.lua with `prefix` below set; site rules go into
-- <prefix>/rules.d.
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
-- Man pages: man-db finds <prefix>/share/man from PATH by itself; a MANPATH that is set replaces that
-- search, so the pages are added to it (never to an unset MANPATH, which would hide the system's pages).
if (os.getenv("MANPATH") or "") ~= "" then
  prepend_path("MANPATH", pathJoin(prefix, "share", "man"))
end
-- Completions: bash-completion and fish look in $XDG_DATA_DIRS (unset means /usr/local/share:/usr/share).
if (os.getenv("XDG_DATA_DIRS") or "") == "" then
  append_path("XDG_DATA_DIRS", "/usr/local/share")
  append_path("XDG_DATA_DIRS", "/usr/share")
end
prepend_path("XDG_DATA_DIRS", pathJoin(prefix, "share"))
-- zsh: an exported FPATH replaces zsh's own function path, so it is extended only when already set.
if (os.getenv("FPATH") or "") ~= "" then
  prepend_path("FPATH", pathJoin(prefix, "share", "zsh", "site-functions"))
end
