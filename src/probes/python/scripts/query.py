# h5doctor interpreter query: what this interpreter is and where it imports from.
# Imports nothing but the standard library's startup modules; runs on Python 2.7 and 3.x.
import json, site, sys, sysconfig
try:
    sitepkgs = site.getsitepackages()
except Exception:
    sitepkgs = []
try:
    usersite = site.getusersitepackages()
except Exception:
    usersite = None
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
    "soabi": sysconfig.get_config_var("SOABI"),
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or sysconfig.get_config_var("SO"),
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "path": sys.path,
    "site_packages": sitepkgs,
    "user_site": usersite,
    "user_site_enabled": bool(getattr(site, "ENABLE_USER_SITE", False)),
}))
