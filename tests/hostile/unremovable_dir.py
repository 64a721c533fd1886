# Leave the checker a folder it cannot remove: a tree of folders with no permissions at all inside the work
# folder (root ignores modes, but a checker run as an ordinary user — the same user as the child when
# there is no separate user — does not, and shutil.rmtree(ignore_errors=True) gives up silently).
import os

try:
    os.makedirs("deep/er/est", exist_ok=True)
    with open("deep/er/est/data", "w") as f:
        f.write("x" * 1000)
    for folder in ("deep/er/est", "deep/er", "deep"):
        os.chmod(folder, 0)
except OSError:
    pass
