#!/usr/bin/python3
"""Independent KADID-10k-style full-reference test set (a generalisation check).

Purpose
-------
hawkeye's models are trained on distortions made by hawkeye's own code.  This
script builds a small full-reference test set whose distortions come from a
second, *independent* implementation: it was written from the KADID-10k
definition (the released MATLAB code of Lin, Hosu & Saupe, "KADID-10k: A
Large-scale Artificially Distorted IQA Database", QoMEX 2019,
http://database.mmsp-kn.de/kadid-10k-database.html) without looking at
hawkeye's distortion code or documentation.  Scoring a model on this set and
comparing with its score on hawkeye-made distortions shows how much of the
model's accuracy survives a change of implementation.

Each distorted image is labelled with the KADID-10k mean DMOS of its
(type, level) over KADID's 81 references (resources/kadid_type_level_dmos.csv),
so labels are per-(type, level) averages, not per-image opinions.

Output: DIR/references/<name>.png, DIR/images/<name>_<typeid:02d>_<level>.png,
DIR/test.jsonl (hawkeye JSON Lines manifest, form "fr").  Photos: the first N
(default 24) of data-work/refs/photos/sun_hays80 in sorted order and the 7 LIVE
references in data-work/refs/live_refs_cilissa; each is rotated by 90 degrees
(PIL ROTATE_90, counter-clockwise) if portrait, scaled with Pillow LANCZOS so it
covers 512x384, and centre-cropped to 512x384.

Sources
-------
[G]  The level table and the generator: imdist_generator.m of the KADID-10k /
     KADIS-700k MATLAB release (folder code_imdistort).  Full 25-type version
     read from a public copy held in the code index (an older stored version
     of github.com/Simple-xiaobai/IC-Bench : imdist_generator.m, index file id
     13483417602); a reduced copy at github.com/rvdorokhov/PhotoFilter
     @ 99632bb6986ba52aa08751ed539b93e3f1bcc40a : imdist_generator.m agrees
     for types 1, 2, 3, 16, 17.  The generator does
        im = mapmm(im); J = im<type>(im, levels(level)); J = mapmm(J);
     where mapmm is a min-max stretch to [0, 1]; the KADIS-700k script then
     writes J with imwrite (PNG, i.e. uint8 = round(255*J)).
[F]  The individual distortion files of the same release, read from the code
     index (it does not name their repository; index file ids in brackets):
     imblurlens.m [13638125189], imblurmotion.m [13068977101],
     imnoisegauss.m [12967241079], imnoiseimpulse.m [13235756803],
     imnoisemultiplicative.m [13415372433], imnoisecolorcomp.m [13304980859],
     imcompressjpeg.m [12974665477], imcompressjp2k.m [13428123438],
     imcolorsaturate.m [13295851510], imsaturate.m [13249937529],
     impixelate.m [13245468753], imcolorblock.m [13595653725].
[M]  MATLAB library behaviour the KADID files rely on, from MathWorks sources
     in the code index: imnoise.m (1993-2003 revision) [1052243052],
     fspecial.m 'disk' and 'motion' [1051171221], hsv2rgb.m (2011) [7726081291].

Implemented types (KADID type_id, name, definition, the 5 level parameters)
---------------------------------------------------------------------------
 1 gaussian_blur     Gaussian low-pass, sigma = [0.1, 0.5, 1, 2, 5]            [G]
                     (the body of imblurgauss.m was NOT found; see deviations)
 2 lens_blur         imfilter(I, fspecial('disk', r), 'replicate'),
                     r = [1, 2, 4, 6, 8]                                       [G][F][M]
 3 motion_blur       imfilter(I, fspecial('motion', len, theta), 'replicate'),
                     theta = randi([0,180]) degrees per image,
                     len = [1, 2, 4, 6, 10]                                    [G][F][M]
 7 color_saturation_1  HSV: S = S * f, then hsv2rgb; f = [0.4, 0.2, 0.1, 0, -0.4]
                                                                               [G][F][M]
 8 color_saturation_2  CIELAB (sRGB, D65): a*,b* multiplied by s, lab2rgb,
                     truncate to [0,1]; s = [1, 2, 3, 6, 9]                    [G][F]
 9 jpeg2000          imwrite(I,'jp2','CompressionRatio',c), read back;
                     c = [16, 32, 45, 120, 400]                                [G][F]
10 jpeg              imwrite(I,'jpg','Quality',q), read back;
                     q = [43, 36, 24, 7, 4]                                    [G][F]
11 white_noise       imnoise(I,'gaussian',0,v): I + sqrt(v)*N(0,1) per sample,
                     clip [0,1]; v = [0.001, 0.002, 0.003, 0.005, 0.01]        [G][F][M]
13 impulse_noise     imnoise(I,'salt & pepper',d): per sample u~U(0,1),
                     u<d/2 -> 0, d/2<=u<d -> 1 (each RGB sample independently);
                     d = [0.001, 0.005, 0.01, 0.02, 0.03]                      [G][F][M]
14 multiplicative_noise  imnoise(I,'speckle',v): I + sqrt(12 v)*I*(U(0,1)-0.5),
                     clip [0,1]; v = [0.001, 0.005, 0.01, 0.02, 0.05]          [G][F][M]
21 pixelate          z = 0.95 - s^0.6; imresize(I, z, 'nearest') then imresize
                     back to the original size, 'nearest';
                     s = [0.01, 0.05, 0.1, 0.2, 0.5]                           [G][F]
23 color_block       n solid 32x32 squares of colour rand(1,3) at top-left
                     (rand*(w-32), rand*(h-32)), opaque; n = [2, 4, 6, 8, 10]  [G][F]
Also available with --types (not in the default twelve):
12 white_noise_color_component  rgb2ycbcr, imnoise gaussian (clip [0,1]) on the
                     YCbCr planes, ycbcr2rgb; v = [0.0001, 0.0005, 0.001, 0.002, 0.003]
                                                                               [G][F][M]
Every type is wrapped exactly as in [G]: min-max stretch of the input, the
distortion, min-max stretch of the result, round(255*x) to uint8.

Types left out, and why
-----------------------
16 brighten, 25 contrast_change: their files (imbrighten.m, imcontrastc.m) were
found but both call a tone-curve helper curves.m that was not found, so the
curve shape (interpolation through the control points, and for contrast the
x positions of the two control values) would be a guess.  17 darken and
18 mean_shift: their files were not found.  22 quantization: uses MATLAB's
multithresh (Otsu multi-level search) which was not reproducible here with
confidence.  6 color_quantization: rgb2ind minimum-variance quantisation with
dithering has no faithful Pillow equivalent.  4, 5, 15, 19, 20, 24: files not
found.

Deviations from the MATLAB originals (all of them, as far as known)
--------------------------------------------------------------------
* Random numbers: numpy PCG64 (np.random.default_rng) seeded per image from
  sha256("<photo>|<type_id>|<level>") instead of MATLAB's Mersenne Twister, so
  noise fields, motion angles and block positions/colours are different draws
  from the same distributions.  Reruns give identical files.
* gaussian_blur: imblurgauss.m itself was not found.  Implemented as MATLAB's
  imgaussfilt(I, sigma) defaults would do it (kernel 2*ceil(2*sigma)+1 square,
  normalised exp(-r^2/(2 sigma^2)), replicate padding).  If KADID used
  fspecial('gaussian') with another size or zero padding, the result differs
  slightly near borders and in the tails for sigma = 5.
* jpeg: Pillow/libjpeg with quality q and 4:2:0 chroma subsampling (libjpeg's
  default, which MATLAB's imwrite also uses as far as known).  Same IJG
  quality scaling; encoder builds may differ in rounding details.
* jpeg2000: OpenJPEG through Pillow (quality_mode='rates', quality_layers=[c],
  irreversible 9/7 wavelet, multi-component transform on, one layer, no
  tiling) instead of MATLAB's JPEG 2000 codec.  The number of wavelet levels
  is OpenJPEG's default (6 resolutions); MATLAB's default was not verified.
  The rate control of the two codecs differs, so the same ratio gives
  somewhat different artefacts.
* color_saturation_2: rgb2lab/lab2rgb written from the standard sRGB (IEC
  61966-2-1 matrix and transfer curve) and CIE formulas with MATLAB's D65
  white point [0.9504, 1, 1.0888]; truncate.m was not found and is taken to be
  clipping to [0, 1].
* color_saturation_1: rgb2hsv/hsv2rgb follow MATLAB's algorithm (hsv2rgb
  scales the whole image by v / max(rgb), which only matters for the negative
  factor and is undone by the final min-max stretch anyway).
* color_block: insertShape is replaced by filling the rectangle whose 1-based
  top-left pixel is round(x), round(y) (MATLAB round), clipped to the image;
  the exact pixel coverage of MATLAB's insertShape for non-integer positions
  was not verified.
* pixelate: MATLAB imresize 'nearest' reimplemented (output size
  ceil(scale*size), u = x/scale + 0.5*(1 - 1/scale), index floor(u + 0.5),
  clamped; no antialiasing for 'nearest').
* Filtering: correlation with replicate padding in float64 (computed with
  FFTs on the edge-padded image), as imfilter(..., 'replicate', 'same').
* mapmm.m was not found; it is implemented as a global min-max stretch to
  [0, 1] over all three channels (as the Python ports of the same code do).
  The first stretch is a no-op for references that span 0..255; for the
  others it adds a small contrast stretch to every distorted version, exactly
  as KADID's generator would.  The run prints those references.
* Photos are not KADID's: 512x384 crops of Sun-Hays80 scenes and LIVE
  references (KADID used 512x384 Pixabay photos).

Usage
-----
  cd /work/main && nice -n 10 /usr/bin/python3 scripts/independent_set.py \
      --out data-work/independent [--photos 24] [--types 1,2,3,...] [--force]
"""

import argparse
import csv
import hashlib
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, features

W, H = 512, 384
DEFAULT_TYPES = [1, 2, 3, 7, 8, 9, 10, 11, 13, 14, 21, 23]
HEADER = ('{"hawkeye_manifest":1,"form":"fr","score_field":"label",'
          '"score_range":[1.0,5.0],"higher_better":true}')

# KADID level parameters, from imdist_generator.m (source [G] in the docstring).
LEVELS = {
    1: [0.1, 0.5, 1, 2, 5],
    2: [1, 2, 4, 6, 8],
    3: [1, 2, 4, 6, 10],
    7: [0.4, 0.2, 0.1, 0, -0.4],
    8: [1, 2, 3, 6, 9],
    9: [16, 32, 45, 120, 400],
    10: [43, 36, 24, 7, 4],
    11: [0.001, 0.002, 0.003, 0.005, 0.01],
    12: [0.0001, 0.0005, 0.001, 0.002, 0.003],
    13: [0.001, 0.005, 0.01, 0.02, 0.03],
    14: [0.001, 0.005, 0.01, 0.02, 0.05],
    21: [0.01, 0.05, 0.1, 0.2, 0.5],
    23: [2, 4, 6, 8, 10],
}

EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------
# small MATLAB-alike helpers
# --------------------------------------------------------------------------

def mround(x):
    """MATLAB round: half away from zero."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def mapmm(x):
    """Global min-max stretch to [0, 1] (the generator's mapmm)."""
    lo, hi = float(x.min()), float(x.max())
    if hi > lo:
        return (x - lo) / (hi - lo)
    return x


def im2uint8(x):
    return np.clip(mround(np.asarray(x, np.float64) * 255.0), 0, 255).astype(np.uint8)


def imfilter_replicate(img, kernel):
    """imfilter(img, kernel, 'replicate', 'same') for an odd-sized kernel:
    correlation per channel in float64, computed with FFTs on the
    edge-padded image (exact up to rounding, ~1e-15)."""
    kernel = np.array(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    assert kh % 2 == 1 and kw % 2 == 1
    if kh == 1 and kw == 1:
        return img * kernel[0, 0]
    ph, pw = kh // 2, kw // 2
    x = np.pad(img, ((ph, ph), (pw, pw), (0, 0)), mode="edge")
    fh, fw = x.shape[0], x.shape[1]
    # correlation = convolution with the kernel rotated by 180 degrees
    kf = np.fft.rfft2(kernel[::-1, ::-1], s=(fh, fw))
    y = np.fft.irfft2(np.fft.rfft2(x, axes=(0, 1)) * kf[..., None], s=(fh, fw), axes=(0, 1))
    # full-convolution index i corresponds to output row i - (kh - 1)
    return y[kh - 1:kh - 1 + img.shape[0], kw - 1:kw - 1 + img.shape[1]]


# --------------------------------------------------------------------------
# kernels (MATLAB fspecial / imgaussfilt)
# --------------------------------------------------------------------------

def gaussian_kernel(sigma):
    """imgaussfilt default: (2*ceil(2*sigma)+1)^2, normalised."""
    r = int(math.ceil(2 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(t * t) / (2 * sigma * sigma))
    k = np.outer(g, g)
    return k / k.sum()


def disk_kernel(rad):
    """fspecial('disk', rad): exact area of the disk inside each pixel."""
    crad = int(math.ceil(rad - 0.5))
    x, y = np.meshgrid(np.arange(-crad, crad + 1, dtype=np.float64),
                       np.arange(-crad, crad + 1, dtype=np.float64))
    maxxy = np.maximum(np.abs(x), np.abs(y))
    minxy = np.minimum(np.abs(x), np.abs(y))
    r2 = rad * rad
    with np.errstate(invalid="ignore"):
        c1 = r2 < (maxxy + 0.5) ** 2 + (minxy - 0.5) ** 2
        m1 = np.where(c1, minxy - 0.5, np.sqrt(np.maximum(r2 - (maxxy + 0.5) ** 2, 0)))
        c2 = r2 > (maxxy - 0.5) ** 2 + (minxy + 0.5) ** 2
        m2 = np.where(c2, minxy + 0.5, np.sqrt(np.maximum(r2 - (maxxy - 0.5) ** 2, 0)))
        a1 = np.arcsin(np.clip(m1 / rad, -1, 1))
        a2 = np.arcsin(np.clip(m2 / rad, -1, 1))
        area = (r2 * (0.5 * (a2 - a1) + 0.25 * (np.sin(2 * a2) - np.sin(2 * a1)))
                - (maxxy - 0.5) * (m2 - m1) + (m1 - minxy + 0.5))
    edge = (((r2 < (maxxy + 0.5) ** 2 + (minxy + 0.5) ** 2)
             & (r2 > (maxxy - 0.5) ** 2 + (minxy - 0.5) ** 2))
            | ((minxy == 0) & (maxxy - 0.5 < rad) & (maxxy + 0.5 >= rad)))
    sgrid = np.where(edge, area, 0.0)
    sgrid = sgrid + (((maxxy + 0.5) ** 2 + (minxy + 0.5) ** 2) < r2)
    c = crad
    sgrid[c, c] = min(math.pi * r2, math.pi / 2)
    if crad > 0 and rad > crad - 0.5 and r2 < (crad - 0.5) ** 2 + 0.25:
        m1s = math.sqrt(r2 - (crad - 0.5) ** 2)
        m1n = m1s / rad
        sg0 = 2 * (r2 * (0.5 * math.asin(m1n) + 0.25 * math.sin(2 * math.asin(m1n)))
                   - m1s * (crad - 0.5))
        sgrid[2 * c, c] = sg0
        sgrid[c, 2 * c] = sg0
        sgrid[c, 0] = sg0
        sgrid[0, c] = sg0
        sgrid[2 * c - 1, c] -= sg0
        sgrid[c, 2 * c - 1] -= sg0
        sgrid[c, 1] -= sg0
        sgrid[1, c] -= sg0
    sgrid[c, c] = min(sgrid[c, c], 1.0)
    return sgrid / sgrid.sum()


def motion_kernel(length, theta):
    """fspecial('motion', length, theta)."""
    ln = max(1.0, float(length))
    half = (ln - 1) / 2
    phi = (theta % 180) / 180 * math.pi
    cosphi, sinphi = math.cos(phi), math.sin(phi)
    xsign = float(np.sign(cosphi))
    linewdt = 1.0
    sx = math.trunc(half * cosphi + linewdt * xsign - ln * EPS)
    sy = math.trunc(half * sinphi + linewdt - ln * EPS)
    if xsign > 0:
        xs = np.arange(0, sx + 1, 1, dtype=np.float64)
    else:
        xs = np.arange(0, sx - 1, -1, dtype=np.float64)
    ys = np.arange(0, sy + 1, dtype=np.float64)
    x, y = np.meshgrid(xs, ys)
    dist2line = y * cosphi - x * sinphi
    rad = np.sqrt(x ** 2 + y ** 2)
    last = (rad >= half) & (np.abs(dist2line) <= linewdt)
    x2last = half - np.abs((x[last] + dist2line[last] * sinphi) / cosphi)
    dist2line[last] = np.sqrt(dist2line[last] ** 2 + x2last ** 2)
    dist2line = linewdt + EPS - np.abs(dist2line)
    dist2line[dist2line < 0] = 0
    r, c = dist2line.shape
    h = np.zeros((2 * r - 1, 2 * c - 1))
    h[:r, :c] = np.rot90(dist2line, 2)
    h[r - 1:, c - 1:] = dist2line
    h = h / (h.sum() + EPS * ln * ln)
    if cosphi > 0:
        h = np.flipud(h)
    return h


# --------------------------------------------------------------------------
# colour spaces (MATLAB semantics)
# --------------------------------------------------------------------------

def rgb2hsv(img):
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    v = np.maximum(np.maximum(r, g), b)
    s = v - np.minimum(np.minimum(r, g), b)
    z = s == 0
    s = s + z
    h = np.zeros_like(v)
    k = r == v
    h[k] = (g[k] - b[k]) / s[k]
    k = g == v
    h[k] = 2 + (b[k] - r[k]) / s[k]
    k = b == v
    h[k] = 4 + (r[k] - g[k]) / s[k]
    h = h / 6
    h[h < 0] += 1
    h = (~z) * h
    nz = v != 0
    s_out = np.zeros_like(v)
    s_out[nz] = (~z[nz]) * s[nz] / v[nz]
    return h, s_out, v


def hsv2rgb(h, s, v):
    h6 = 6 * h
    k = np.floor(h6)
    p = h6 - k
    t = 1 - s
    n = 1 - s * p
    p = 1 - s * (1 - p)
    r = np.zeros_like(h)
    g = np.zeros_like(h)
    b = np.zeros_like(h)
    for kk, (rr, gg, bb) in {0: (1, p, t), 1: (n, 1, t), 2: (t, 1, p),
                             3: (t, n, 1), 4: (p, t, 1), 5: (1, t, n)}.items():
        kc = (k == kk) | ((k == 6) if kk == 0 else False)
        r = r + kc * rr
        g = g + kc * gg
        b = b + kc * bb
    out = np.stack([r, g, b], axis=-1)
    return out * (v / out.max())[..., None]


_M_RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                       [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
_M_XYZ2RGB = np.linalg.inv(_M_RGB2XYZ)
_D65 = np.array([0.9504, 1.0, 1.0888])
_LAB_E = 216 / 24389
_LAB_K = 24389 / 27


def rgb2lab(img):
    lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _M_RGB2XYZ.T / _D65
    f = np.where(xyz > _LAB_E, np.cbrt(xyz), (_LAB_K * xyz + 16) / 116)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1)


def lab2rgb(lab):
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16) / 116
    fx = fy + a / 500
    fz = fy - b / 200
    xr = np.where(fx ** 3 > _LAB_E, fx ** 3, (116 * fx - 16) / _LAB_K)
    yr = np.where(L > _LAB_K * _LAB_E, fy ** 3, L / _LAB_K)
    zr = np.where(fz ** 3 > _LAB_E, fz ** 3, (116 * fz - 16) / _LAB_K)
    xyz = np.stack([xr, yr, zr], axis=-1) * _D65
    lin = xyz @ _M_XYZ2RGB.T
    mag = np.abs(lin)
    enc = np.where(mag <= 0.0031308, 12.92 * mag, 1.055 * mag ** (1 / 2.4) - 0.055)
    return np.sign(lin) * enc


def rgb2ycbcr(img):
    m = np.array([[65.481, 128.553, 24.966],
                  [-37.797, -74.203, 112.0],
                  [112.0, -93.786, -18.214]]) / 255.0
    return img @ m.T + np.array([16.0, 128.0, 128.0]) / 255.0


def ycbcr2rgb(ycc):
    m = np.array([[65.481, 128.553, 24.966],
                  [-37.797, -74.203, 112.0],
                  [112.0, -93.786, -18.214]]) / 255.0
    return (ycc - np.array([16.0, 128.0, 128.0]) / 255.0) @ np.linalg.inv(m).T


# --------------------------------------------------------------------------
# MATLAB imresize 'nearest'
# --------------------------------------------------------------------------

def _nearest_index(in_len, out_len, scale):
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    idx = np.floor(u + 0.5).astype(np.int64)
    return np.clip(idx, 1, in_len) - 1


def imresize_nearest(img, scale=None, size=None):
    h, w = img.shape[:2]
    if size is None:
        oh, ow = int(math.ceil(scale * h)), int(math.ceil(scale * w))
        sh = sw = scale
    else:
        oh, ow = size
        sh, sw = oh / h, ow / w
    ri = _nearest_index(h, oh, sh)
    ci = _nearest_index(w, ow, sw)
    return img[ri][:, ci]


# --------------------------------------------------------------------------
# the distortions (input: float64 HxWx3 in [0,1] after mapmm)
# --------------------------------------------------------------------------

def d_gaussian_blur(img, sigma, rng):
    return imfilter_replicate(img, gaussian_kernel(sigma))


def d_lens_blur(img, radius, rng):
    return imfilter_replicate(img, disk_kernel(radius))


def d_motion_blur(img, length, rng):
    theta = int(rng.integers(0, 181))  # randi([0, 180])
    return imfilter_replicate(img, motion_kernel(length, theta))


def d_color_saturation_1(img, factor, rng):
    h, s, v = rgb2hsv(img)
    return hsv2rgb(h, s * factor, v)


def d_color_saturation_2(img, factor, rng):
    lab = rgb2lab(img)
    lab[..., 1:] *= factor
    return np.clip(lab2rgb(lab), 0, 1)


def _roundtrip(img, fmt, **kw):
    buf = io.BytesIO()
    Image.fromarray(im2uint8(img), "RGB").save(buf, fmt, **kw)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), np.float64) / 255.0


def d_jpeg2000(img, ratio, rng):
    return _roundtrip(img, "JPEG2000", quality_mode="rates", quality_layers=[float(ratio)],
                      irreversible=True, mct=1)


def d_jpeg(img, quality, rng):
    return _roundtrip(img, "JPEG", quality=int(quality), subsampling=2)


def _imnoise_gaussian(x, var, rng):
    x = np.clip(x, 0, 1)
    return np.clip(x + math.sqrt(var) * rng.standard_normal(x.shape), 0, 1)


def d_white_noise(img, var, rng):
    return _imnoise_gaussian(img, var, rng)


def d_white_noise_color_component(img, var, rng):
    return ycbcr2rgb(_imnoise_gaussian(rgb2ycbcr(img), var, rng))


def d_impulse_noise(img, d, rng):
    out = img.copy()
    u = rng.random(img.shape)
    out[u < d / 2] = 0.0
    out[(u >= d / 2) & (u < d)] = 1.0
    return out


def d_multiplicative_noise(img, var, rng):
    u = rng.random(img.shape)
    return np.clip(img + math.sqrt(12 * var) * img * (u - 0.5), 0, 1)


def d_pixelate(img, strength, rng):
    z = 0.95 - strength ** 0.6
    lo = imresize_nearest(img, scale=z)
    return imresize_nearest(lo, size=img.shape[:2])


def d_color_block(img, n, rng):
    out = img.copy()
    h, w = img.shape[:2]
    ph, pw = 32, 32
    h_max, w_max = h - ph, w - pw
    for _ in range(int(n)):
        color = rng.random(3)
        x = rng.random() * w_max
        y = rng.random() * h_max
        c0 = int(mround(x)) - 1  # 1-based top-left pixel -> 0-based
        r0 = int(mround(y)) - 1
        out[max(r0, 0):max(r0 + ph, 0), max(c0, 0):max(c0 + pw, 0), :] = color
    return out


TYPES = {  # type_id -> function
    1: d_gaussian_blur,
    2: d_lens_blur,
    3: d_motion_blur,
    7: d_color_saturation_1,
    8: d_color_saturation_2,
    9: d_jpeg2000,
    10: d_jpeg,
    11: d_white_noise,
    12: d_white_noise_color_component,
    13: d_impulse_noise,
    14: d_multiplicative_noise,
    21: d_pixelate,
    23: d_color_block,
}


def distort(ref_u8, type_id, level, rng):
    """The generator: mapmm -> distortion -> mapmm -> uint8."""
    im = mapmm(ref_u8.astype(np.float64) / 255.0)
    out = TYPES[type_id](im, LEVELS[type_id][level - 1], rng)
    return im2uint8(mapmm(np.asarray(out, np.float64)))


def seed_for(name, type_id, level):
    digest = hashlib.sha256(f"{name}|{type_id}|{level}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


# --------------------------------------------------------------------------
# photos and driver
# --------------------------------------------------------------------------

def prepare_photo(path):
    im = Image.open(path).convert("RGB")
    if im.height > im.width:
        im = im.transpose(Image.ROTATE_90)
    s = max(W / im.width, H / im.height)
    nw = max(W, int(round(im.width * s)))
    nh = max(H, int(round(im.height * s)))
    im = im.resize((nw, nh), Image.LANCZOS)
    left, top = (nw - W) // 2, (nh - H) // 2
    return im.crop((left, top, left + W, top + H))


def read_dmos(csv_path):
    table = {}
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            table[(int(row["type_id"]), int(row["level"]))] = (row["type_name"],
                                                                 float(row["mean_dmos"]))
    return table


def main(argv=None):
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data-work/independent")
    ap.add_argument("--photos", type=int, default=24,
                    help="how many sun_hays80 photos (sorted order), default 24")
    ap.add_argument("--types", default=",".join(map(str, DEFAULT_TYPES)),
                    help="comma list of KADID type ids (default: the 12 implemented defaults)")
    ap.add_argument("--shared", default=str(repo / "data-work" / "refs"),
                    help="the photographs' folder (default: data-work/refs, filled by scripts/get-data.sh; "
                         "../shared/data has the same layout)")
    ap.add_argument("--force", action="store_true",
                    help="write into a non-empty --out (replaces this script's own outputs)")
    args = ap.parse_args(argv)

    t0 = time.time()
    types = [int(t) for t in args.types.split(",") if t.strip()]
    for t in types:
        if t not in TYPES:
            ap.error(f"type {t} is not implemented (available: {sorted(TYPES)})")
    if 9 in types and not features.check("jpg_2000"):
        ap.error("this Pillow has no JPEG 2000 support; leave type 9 out")

    shared = Path(args.shared)
    dmos = read_dmos(repo / "resources" / "kadid_type_level_dmos.csv")
    sun = sorted((shared / "photos" / "sun_hays80").glob("*.jpg"))[:args.photos]
    live = sorted((shared / "live_refs_cilissa").glob("*.bmp"))
    if len(sun) < args.photos or len(live) != 7:
        sys.exit(f"expected {args.photos} sun_hays80 photos and 7 LIVE references, "
                 f"found {len(sun)} and {len(live)}")
    photos = [(p, "sun_hays80") for p in sun] + [(p, "live") for p in live]

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        if not args.force:
            sys.exit(f"{out} is not empty; use --force to overwrite")
        for sub in ("images", "references"):
            for f in (out / sub).glob("*.png"):
                f.unlink()
        (out / "test.jsonl").unlink(missing_ok=True)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "references").mkdir(parents=True, exist_ok=True)

    lines = [HEADER]
    n_img = 0
    stretched = []
    for path, collection in photos:
        name = path.stem
        ref = prepare_photo(path)
        ref.save(out / "references" / f"{name}.png")
        ref_u8 = np.asarray(ref)
        if ref_u8.min() > 0 or ref_u8.max() < 255:
            stretched.append(f"{name}[{ref_u8.min()},{ref_u8.max()}]")
        for t in types:
            for level in range(1, 6):
                rng = np.random.default_rng(seed_for(name, t, level))
                img = distort(ref_u8, t, level, rng)
                fname = f"{name}_{t:02d}_{level}.png"
                Image.fromarray(img, "RGB").save(out / "images" / fname)
                type_name, label = dmos[(t, level)]
                lines.append(json.dumps({
                    "image": f"images/{fname}",
                    "reference": f"references/{name}.png",
                    "label": label,
                    "split": "test",
                    "type_id": t,
                    "type_name": type_name,
                    "level": level,
                    "collection": collection,
                }, separators=(",", ":")))
                n_img += 1
    (out / "test.jsonl").write_text("\n".join(lines) + "\n")
    if stretched:
        print("note: references not spanning 0..255 (KADID's input min-max stretch "
              "applies to their distorted versions): " + " ".join(stretched))
    print(f"independent_set: {len(photos)} references, {n_img} distorted images "
          f"({len(types)} types x 5 levels: {','.join(map(str, types))}) -> {out}/test.jsonl "
          f"in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
