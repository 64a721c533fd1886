# Read what only the checker may read: /etc/shadow, the checker's environment, a private file.
import os
stolen = []
for path in ("/etc/shadow", "/proc/@PPID@/environ", "/proc/%d/environ" % os.getppid(), "@SECRET@",
             "/proc/1/environ", "/proc/@PPID@/cmdline"):
    try:
        with open(path, "rb") as f:
            stolen.append(f.read(4096))
    except Exception as err:
        stolen.append(repr(err))
print("STOLEN", stolen)
raise RuntimeError("STOLEN %r" % stolen)
