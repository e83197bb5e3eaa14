"""``python -m vae_augment``: the `vae-augment` command line."""

import sys

from vae_augment.cli import main

if __name__ == "__main__":
    sys.exit(main())
