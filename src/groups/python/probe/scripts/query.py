# h5doctor interpreter query: what this interpreter is and where it imports from.
# Imports nothing but the standard library's startup modules; runs on Python 2.7 and 3.x. Run alone, or
# as the first part of the import probe (one interpreter start for both answers): its names end in _q.
import json, site, sys, sysconfig
try:
    sitepkgs_q = site.getsitepackages()
except Exception:
    sitepkgs_q = []
try:
    usersite_q = site.getusersitepackages()
except Exception:
    usersite_q = None
sys.stdout.write("H5DOCTOR-QUERY " + json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    "soabi": sysconfig.get_config_var("SOABI"),
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or sysconfig.get_config_var("SO"),
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "path": sys.path,
    "site_packages": sitepkgs_q,
    "user_site": usersite_q,
    "user_site_enabled": bool(getattr(site, "ENABLE_USER_SITE", False)),
}) + "\n")
# Out at once: h5doctor reads this line while the import probe goes on.
sys.stdout.flush()
