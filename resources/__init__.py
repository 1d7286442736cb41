"""The dashboard files and icons, shipped inside the package as `murmuration.resources`."""
