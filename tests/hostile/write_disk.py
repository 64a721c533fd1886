# Write 2 GB as fast as possible, in the work folder and in every shared place it may reach.
import os
chunk = b"\x00" * (64 * 2**20)
for path in ("@TAG@.bin", "/tmp/@TAG@.bin", "/dev/shm/@TAG@.bin", "/var/tmp/@TAG@.bin", "@MARK@-disk"):
    try:
        with open(path, "wb") as f:
            for _ in range(32):
                f.write(chunk)
    except BaseException as err:
        print(path, type(err).__name__)
