"""Writes the fixture's tiny FITS images (20x20 float32, TAN WCS, 0.001 deg pixels) into a folder.
Runs under Debian's /usr/bin/python3 (DaCHS's interpreter, which has astropy and numpy).

    /usr/bin/python3 make_fits.py <folder>
"""
import sys
from pathlib import Path

import numpy
from astropy.io import fits

# name, RA, Dec, filter, object, DATE-OBS, exposure (s)
IMAGES = [
    ("field-a-v", 10.00, 20.00, "V", "Field A", "2024-03-01T01:00:00", 30.0),
    ("field-a-r", 10.05, 20.02, "R", "Field A", "2024-03-02T01:00:00", 45.0),
    ("field-b-v", 150.00, 2.00, "V", "Field B", "2024-04-10T22:00:00", 60.0),
]
SIZE = 20


def header(ra: float, dec: float, band: str, target: str, date_obs: str, exptime: float) -> fits.Header:
    card = fits.Header()
    card.update({
        "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": ra, "CRVAL2": dec,
        "CRPIX1": SIZE / 2 + 0.5, "CRPIX2": SIZE / 2 + 0.5, "CDELT1": -0.001, "CDELT2": 0.001,
        "CUNIT1": "deg", "CUNIT2": "deg", "RADESYS": "ICRS", "EQUINOX": 2000.0,
        "FILTER": band, "OBJECT": target, "DATE-OBS": date_obs, "EXPTIME": exptime,
        "TELESCOP": "esap-synthetic", "INSTRUME": "esap-cam",
    })
    return card


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for seed, (name, ra, dec, band, target, date_obs, exptime) in enumerate(IMAGES):
        pixels = numpy.random.default_rng(seed).normal(100.0, 5.0, (SIZE, SIZE)).astype("float32")
        path = folder / f"{name}.fits"
        hdu = fits.PrimaryHDU(pixels, header(ra, dec, band, target, date_obs, exptime))
        hdu.writeto(path, overwrite=True)
        written.append(path)
    return written


if __name__ == "__main__":
    for written in write(Path(sys.argv[1])):
        print(written)
