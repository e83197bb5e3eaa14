"""vae-augment: conditional-VAE data augmentation for imbalanced Parquet data."""

import re

from setuptools import find_packages, setup

# one source of the release: vae_augment/__init__.py (read as text: importing the package
# here would need its dependencies before they are installed)
with open("vae_augment/__init__.py", encoding="utf-8") as f:
    VERSION = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M).group(1)

setup(
    name="vae-augment",
    version=VERSION,
    description="Balance imbalanced tables and image sets with a conditional VAE "
    "(Keras 3 + TFP), from the CLI, Apache Beam, tf.data or imbalanced-learn.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["vae_augment", "vae_augment.*", "pipelines"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<4",
        "tensorflow-probability>=0.25,<0.26",
        "tf-keras>=2.21,<2.22",  # TFP imports it when it sees Keras 3; never used directly
        "apache-beam>=2.77,<3",
        "pyarrow>=25,<26",
        "numpy>=1.26",
        "scipy>=1.11",
        "scikit-learn>=1.5",
        "imbalanced-learn>=0.13",
        "sklearn-compat>=0.1.6",  # imported by vae_augment.imblearn (came only via imbalanced-learn)
        "pandas>=2.2",
        "matplotlib>=3.8",
        "tqdm>=4.66",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "hypothesis>=6.100", "ruff>=0.6", "dask[distributed]>=2024.1", "psutil>=5.9",
                 "polars>=1.0"],
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        "dask": ["dask[distributed]>=2024.1"],
    },
    entry_points={"console_scripts": ["vae-augment=vae_augment.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
