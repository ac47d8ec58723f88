"""``python -m critnet`` (used by ``torchrun -m critnet train ...``)."""

from critnet.cli import main

if __name__ == "__main__":
    main()
