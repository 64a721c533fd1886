# Plant code in a module the checker imports later (rich), and in a module the test planted outside.
import glob
import os
planted = []
for pattern in ("/root/.pyenv/versions/*/lib/python3*/site-packages/rich/__init__.py",
                "/usr/lib/python3*/*-packages/rich/__init__.py", "/usr/local/lib/python3*/*-packages/rich/__init__.py",
                "@MARK@-module.py"):
    for path in glob.glob(pattern):
        try:
            with open(path, "a") as f:
                f.write("\n# @TAG@\n")
            planted.append(path)
        except Exception:
            pass
print("PLANTED", planted)
