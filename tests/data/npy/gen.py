# Regenerates the .npy fixtures read by tests/core/test_npy.c (run once, output committed):
#   cd tests/data/npy && /usr/bin/python3 gen.py
import numpy as np

np.save("f32_2x3.npy", (np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 - 1))
np.save("f64_scalar.npy", np.array(3.25, dtype=np.float64))
np.save("i64_3.npy", np.array([-1, 0, 2**40], dtype=np.int64))
np.save("i32_2x2.npy", np.array([[-7, 8], [2**31 - 1, -2**31]], dtype=np.int32))
np.save("u8_3.npy", np.array([0, 128, 255], dtype=np.uint8))
np.save("i8_3.npy", np.array([-128, -1, 127], dtype=np.int8))
np.save("bool_4.npy", np.array([True, False, False, True]))
np.save("f32_0x3.npy", np.zeros((0, 3), dtype=np.float32))
np.save("u8_2x1x2x2.npy", np.arange(8, dtype=np.uint8).reshape(2, 1, 2, 2))
with open("v2_f32_2.npy", "wb") as f:
    np.lib.format.write_array(f, np.array([1.5, -2.0], dtype=np.float32), version=(2, 0))
with open("v3_i64_2.npy", "wb") as f:
    np.lib.format.write_array(f, np.array([5, 6], dtype=np.int64), version=(3, 0))
np.save("bad_bigendian.npy", np.array([1.0, 2.0], dtype=">f4"))
np.save("bad_fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save("bad_f16.npy", np.array([1.0], dtype=np.float16))
