"""Synthetic RGB image tables (session 32's image audit): class 0 a red square, class 1 a
green disc, class 2 a blue bar, with Gaussian pixel noise; 250 / 40 / 5 rows, uint8 as Arrow's
fixed_shape_tensor. Writes rgbN.parquet for each side N given:

    .venv/bin/python benchmarks/explore/rgb_tables.py /tmp/img 32 64
    /usr/bin/time -v .venv/bin/vae-augment fit /tmp/img/rgb64.parquet --label label \\
        --model-dir /tmp/img/m64 --epochs 3 --batch-size 32 --seed 0 --quiet

(`benchmarks/results/bank_memory_images_s32.txt`).
"""
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def make_rgb(n_per, h, w, rng):
    imgs, labels = [], []
    yy, xx = np.mgrid[0:h, 0:w]
    for c, n in enumerate(n_per):
        for _ in range(n):
            img = np.zeros((h, w, 3), np.float64)
            if c == 0:
                s = rng.integers(h // 4, h // 2)
                o = rng.integers(0, h - s)
                img[o:o + s, o:o + s, 0] = 220
            elif c == 1:
                r = rng.uniform(h / 5, h / 3)
                cy, cx = rng.uniform(h / 3, 2 * h / 3, 2)
                img[((yy - cy) ** 2 + (xx - cx) ** 2) < r * r, 1] = 200
            else:
                y0 = rng.integers(2, h - 4)
                img[y0:y0 + 3, :, 2] = 230
            img += rng.normal(0, 10, img.shape)
            imgs.append(np.clip(img, 0, 255).astype(np.uint8))
            labels.append(c)
    return np.stack(imgs), np.array(labels)


def main(out: str, sides) -> None:
    os.makedirs(out, exist_ok=True)
    for side in sides:
        imgs, labels = make_rgb([250, 40, 5], side, side, np.random.default_rng(0))
        typ = pa.fixed_shape_tensor(pa.uint8(), [side, side, 3])
        storage = pa.FixedSizeListArray.from_arrays(pa.array(imgs.reshape(-1)), side * side * 3)
        table = pa.table({"image": pa.ExtensionArray.from_storage(typ, storage),
                          "label": pa.array(labels, pa.int64())})
        pq.write_table(table, os.path.join(out, f"rgb{side}.parquet"), row_group_size=100)


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2:]] or [32, 64])
