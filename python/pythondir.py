"""Prints the directory of this python's path that lies under PREFIX and
holds packages (site-packages or dist-packages), or nothing."""
import sys

prefix = sys.argv[1].rstrip("/") + "/"
print(next((d for d in sys.path if d.startswith(prefix) and d.endswith("-packages")), ""))
