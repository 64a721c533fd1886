# os.open relative to a directory fd: the path in an audit event is relative and carries no dir_fd.
import os
stolen = []
try:
    root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    fd = os.open("etc/shadow", os.O_RDONLY, dir_fd=root)
    stolen.append(os.read(fd, 4096))
except Exception as err:
    stolen.append(repr(err))
try:
    secret_dir = os.open(os.path.dirname("@SECRET@"), os.O_RDONLY | os.O_DIRECTORY)
    fd = os.open(os.path.basename("@SECRET@"), os.O_RDONLY, dir_fd=secret_dir)
    stolen.append(os.read(fd, 4096))
except Exception as err:
    stolen.append(repr(err))
try:
    mark_dir = os.open(os.path.dirname("@MARK@"), os.O_RDONLY | os.O_DIRECTORY)
    fd = os.open(os.path.basename("@MARK@") + "-dirfd", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=mark_dir)
    os.write(fd, b"escaped")
except Exception as err:
    stolen.append(repr(err))
print("STOLEN", stolen)
