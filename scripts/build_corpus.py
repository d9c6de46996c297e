#!/usr/bin/env python3
"""Rebuild the real-flight corpus (data/flights/) from its original source files.

Nothing is downloaded. The originals are files from public repositories and
packages listed in docs/data-sources.md (repository, commit, path, licence and
sha256 of each); put them in one folder (``--originals``, default
``~/.cache/skywarden-corpus-originals``) under the file names of ``SOURCES`` below, then run

    python scripts/build_corpus.py [--originals DIR] [--out data/flights]

Every original is checked against its sha256 first. Each flight is written as
``<flight_id>.csv.gz`` with the columns ``t_s,lat_deg,lon_deg,alt_m`` (s from
the first sample, WGS-84 degrees, metres; ``alt_m`` empty for 2-D tracks), and
``manifest.csv`` lists every flight with its class, type, source, licence,
split (train/eval, by flight) and the sha256 of its file. The output is byte
for byte reproducible (gzip without time stamp).

Needs ``rdata`` (R data files of the bird sources): ``pip install -e ".[corpus]"``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import io
import itertools
import json
import math
import re
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pymap3d

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Source:
    """One original file: where it came from, its licence and how to read it."""

    id: str
    file: str
    repo: str
    commit: str
    path: str
    licence: str
    cls: str
    kind: str
    reader: str


#: IGC flight-recorder files of gliders in Turbo87/igc-parser (MIT): (commit, path, sha256).
IGC_PARSER_FILES: tuple[tuple[str, str, str], ...] = (
    (
        "29672f82c87b93cc2c44b567421a97c05383ea4c",
        "fixtures/2016-11-08-xcs-aaa-02.igc",
        "62a3995ee8df49fd9ca474b9bc8ae7038f79a714d6edd2be53f50e7bbea62b36",
    ),
    (
        "29672f82c87b93cc2c44b567421a97c05383ea4c",
        "fixtures/20180427.igc",
        "ec74823f734cf78e5525c0735df461a3991e70de624bf5cb394cb8150b60865c",
    ),
    (
        "29672f82c87b93cc2c44b567421a97c05383ea4c",
        "fixtures/20211015.igc",
        "e261da7fda0a7a50334013952c2ad9d9d6cdb7a31eeab4281557d531672eaa6e",
    ),
    (
        "29672f82c87b93cc2c44b567421a97c05383ea4c",
        "fixtures/20241007TZN.igc",
        "8449a9713ab070434ed0121c262b5dacf847b9de9d91aa6ad0277721976f9422",
    ),
    (
        "29672f82c87b93cc2c44b567421a97c05383ea4c",
        "fixtures/654G6NG1.IGC",
        "44ea446c8762222cf9a12d826925e25f9494c93aba2298a50b6b6d01ad540635",
    ),
    (
        "29672f82c87b93cc2c44b567421a97c05383ea4c",
        "fixtures/MD_85ugkjj1.IGC",
        "c4589f4d62d567a1285ce87ff0186c8b11a9e7594821035b94d30b67279c8b64",
    ),
    (
        "29672f82c87b93cc2c44b567421a97c05383ea4c",
        "fixtures/lad_lod_extensions.igc",
        "176ccd3a5fc645cb5cfcd8c72050f7a3ffbde289774fa8f82e9bebb628cc8f20",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/1G_77fv6m71.igc",
        "ae31c0035d3a8001cfa4d0f9f6203197c0d3918ed1e2d43a47a90d32415dc3be",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/1R_77fv39a1.igc",
        "ce17d746711e58b0c5ec7bcb8dd96e6d7fadfb51e949d0109462cc7a68ec069c",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/1_77fv6kh1.igc",
        "46620afca5b488a30d7c2933d80810f6305b2449459a938937553670bc997d50",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/33_77fv2tp1.igc",
        "a3671708fb420298f3ad4ef31df289f5f5317e014d0c520ff83a6dbf854b9f24",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/999_77fg8bt1.IGC",
        "806981da032cccbb3a9abba0f488a1dc5e605f0b9749e3a364c2d1c671ca9f62",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/E1_77ff85b1.igc",
        "772192a76770c731e3821798df36c9919eaec864832f305b6a987236fb9024ec",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/EI_77fv6e71.igc",
        "cbf13804f4a656e77d76c712863171b28b6ffdf6eff59135cbc6f38a0c563a04",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/FR_77fv14x1.igc",
        "b70bb0a115d7745a6842d2e5568fe85fa18ad0854a88a40ec060777a98cf3bd0",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/H1_77flne21.IGC",
        "4e744b1b5a77117750de6979ed5dcd3337926126d47a92d8824771741fccae23",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/IGP_77fg7sd1.IGC",
        "5f07c03f82c96d2cf5b117103e0287ee2097f73aaacfe35dd6aa0569e725869b",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/JM_77fg1bg1.IGC",
        "5719f5b48360c4c81668429634b1d1c6abbe3888d4894716445252be8241138e",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/LC_77fg9ej1_1.igc",
        "b7f8050a34f63a6663994ab1a3f5da6d4c2d1e46973dffc501875f187f5ca239",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/MI_77fv2xk1.igc",
        "6a0e5379f4b8cbf0a92a987dc7ccbcb70efb62d2aad58d167a0ef357bf283ccf",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/MS_77fg4wg1.IGC",
        "5819b8bde8972944b38e1ceeca8fa1006c73a6db30cfd59a32503ede7775b930",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/P9_77fl1kd1.IGC",
        "37f36dabd94b87e225dd285e6b37d6c4a0edf260af3c71ab26fadf46483c5605",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/SW_77flqgg1.IGC",
        "38681071113f522d5493ce3ca0479765febd42393ce84ff45c8bb15064fd3dc8",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/T1_77fg4th1.IGC",
        "46f5159f4d90c230fa9e4d7af5e0f116551311792e615516f0d53dbe6a7fc423",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/TA_77fv38w1.igc",
        "72f11cbbfcca0bc305fad9c84adbc3348471987a55e09a0471ca2b9b4125e9f7",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/T_77fv4np1.igc",
        "bb98ee00294bace25bd08ef935bf00e056d06d200699cfa5101f61a8aae29cb7",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/WJ_77flnsk1.IGC",
        "f6b76d99886ed571b5715368b8f2140c1cf4d6d7ee2ea4f56a1e7e9fb7bd8fc7",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/XN_77fg9ow1.IGC",
        "e7e0cb484c8222184e8edc16c3041bd79895993ff3be4f8b546dc504b53f67a2",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/ZG_77fv6ci1.igc",
        "004527feb094b6593b39d9f1ad546e5b737c940013c6eb6cdf89ad6be6b405e4",
    ),
    (
        "3ac02ac913b7a6dc79b2b022a3b0f9e580d5051e",
        "fixtures/2017-07-15-lev/sq_2017-07-15-fla-3jv-01.igc",
        "056cc0068e3e86dc14877191f71d47a0ca63e1ddf79a5af1d2a4171630863870",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/1G_77hv6m71.igc",
        "379edced4c571687d85139bc06f8c2df964c2e6c1624821464b3d5538a7d17e3",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/1R_2017-07-17-xcs-aaa-01.igc",
        "e412f51fc48bd8c731207f713f723b8341b1c6a207d06280248777ad9616ea69",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/1_77hv6kh1.igc",
        "d6b56a451c72621617e8c61df0be6700462cf11527b8979e209290f7bc181df3",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/33_77hv2tp1.igc",
        "884fa61de7815fafca75d361ce7c65665057b5f4981e1c97bb7f4174f2c45505",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/999_77hg8bt1.IGC",
        "80c33e2169a1a63956ed1b98f77a3299866b4c01de6cfdc079151d5fb396fd8b",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/E1_77hf85b1.igc",
        "f3874e330a8937d2f5e9ebfe1d5bd091fc107e1f209359c1117d99cce27f43d4",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/EI_77hv6e71.igc",
        "4f2cbf48e870e748de2319194be045e8300411eba42faee44b054167c288d477",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/FR_77hv14x1.igc",
        "5e261a11266f7ebcfd36abb2d0bb72d238bea237688bbdfdc892cb263afd69eb",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/H1_77hlne21.IGC",
        "caaf427e69a6cf90e61652dc2b26b447edc811b5febe88c82318fc67dd547e0b",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/IGP_77hg7sd1.IGC",
        "03b8e860f36e122c5c34d5e1b08d6fe49fa590881240ecbf4cb1584f5fbf2f8b",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/JM_77hg1bg1.IGC",
        "165292bf1cb6713b554acdfc2d67997de20b1b12c2f6fe06ea5b1a984262de8b",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/LC_77hg9ej1.IGC",
        "c28c2afc2c84b42cbea20a65e4cfd389341effd20bf404c82b338eaaac207f3c",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/MI_77hv2xk1.igc",
        "f3ab561b07c4ee8973cbda8c9c909de117fa2aa6366e0f9b03ad1bc46032ffa3",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/MS_77hg4wg1.IGC",
        "0d2d9eedab711bfdf6bf9f3b753d4be33d037f63b526959b24cead5569ff00c5",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/P9_77hl1kd1.IGC",
        "248faf23ce6715e963326450d96a10ac46383dea2454146b923ff5c8ec63cb82",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/SW_77hlqgg1.IGC",
        "bd9f721c9519ad16eaf9df4fda998d024922c19bdd178756c5988682d0bf6ae9",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/T1_77hg4th1.IGC",
        "98176c0982a0e012fc7f8a8b650276979293d673eef8bdf3b54b45d5ce10589e",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/WJ_tag2_elenamascus.igc",
        "93da12b0dc186ff4862a6bb3502c3605e55020a1e39312f7270f74cf69b084a6",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/XN_77hg9ow1.IGC",
        "04d95da4a0eec39b646feaee0bcfa45de2cf0aa747fc81d08c2e03f173825959",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/ZG_77hv6ci1.igc",
        "b8194de9464595d0561f5f8323b27a1ad92f804b20125d0ea1c0db111716a1e5",
    ),
    (
        "5c78c2b7230bc3819dc4f452f4e31334bdde5746",
        "fixtures/2017-07-17-lev/sq_2017-07-17-fla-3jv-01.igc",
        "55a05d18fa24bd332a1d0ddc95afaa3582dbedd19c6de0fcdada4f7fe2f69709",
    ),
)


#: DJI flight records of the DroneDeploy app in dronedeploy/flight-log-parser (MIT):
#: (name under testlog/, aircraft, sha256). Real flights: the battery gives 10-16 A
#: in the air and loses 10-17 % in 2-4 min, as spinning rotors draw (a simulator
#: session drives no rotors: these logs show 1.5 A before take-off). Left out: ``iOS11-2`` and
#: ``errorLog`` (the same flight as ``iphone-ios11-inspire``), ``json-info*``
#: (constant 10 satellites and 10 m/s, no device position: made up for a test).
DRONEDEPLOY_COMMIT = "9c4189f40ac0c39ac6e49516b24fb5a2be2bb5fd"
DRONEDEPLOY_FILES: tuple[tuple[str, str, str], ...] = (
    (
        "ipad-ios11-phantom4",
        "DJI Phantom 4 Pro (quadcopter, waypoint mission)",
        "2c21b405be1d566a59de64f5ade6a26ccee9f8b980834f6f0c591cdbd434955b",
    ),
    (
        "iphone-ios-11-3-matrice",
        "DJI Matrice 200 (quadcopter, waypoint mission)",
        "0b5547a6a5df058b9fe17f8ec208c593aa211d1f9fdcce5050218aec9caf0354",
    ),
    (
        "iphone-ios11-inspire",
        "DJI Inspire 1 Pro (quadcopter, waypoint mission)",
        "566b28e4f7e3c67b7fd44743a6af882e5d360686d102ab5f674204f90740bf77",
    ),
    (
        "pixel2-inspire2",
        "DJI Inspire 2 (quadcopter, hovering)",
        "df0532d3bee33e57db50d56d68749c0141c60b312771d46fe260db574e58faea",
    ),
)


#: Flight paths (``.flp``) of light aircraft in aschweiz/project-ocap (BSD-3-Clause), test
#: flights of a collision-warning project at Birrfeld and Grenchen, Switzerland, 2025:
#: (``<date>_<airfield>_<aircraft>``, sha256). Left out: ``20250408_grenchen_1CB`` and
#: ``_19F``, second recorders in the aircraft of ``68D`` and ``C1F`` (within 2 m of them).
OCAP_COMMIT = "0fbc9a40c91b71381b8075006fc8b07590b0d3e7"
OCAP_FILES: tuple[tuple[str, str], ...] = (
    ("20250110_birrfeld_rdn1", "da049efc0fac86b251de0c9f5ead8976ab1602c930efedc4f8157ee88796b142"),
    ("20250110_birrfeld_rdn2", "ea45c294aa22c030b1476571d6bf338ca1f07c70fb76ca3b6e3d802dcd014cd8"),
    ("20250110_birrfeld_yla1", "9e3bc3c66e1f68bd33a59650bd0c23287ddaa5477ef8235fdf452aa0176b12b5"),
    ("20250110_birrfeld_yla2", "5b521b2899e4199fc588677e8fe861812e3dc12c87a9fa6e9c18246089d1fa14"),
    ("20250222_birrfeld_cxq", "d8a1788fcdaed131c893a0c9543016680c65d08009bd1bf37e067c69be4501a6"),
    ("20250222_birrfeld_yla", "168dcaf0869daa8fc9dc6a2443c12ebb0f5a407108ca9d6f9a592606a2969cfe"),
    ("20250408_grenchen_68D", "5fe1225a140d615697e3f87c46850896254ce27c2a06eb960abbb1a8cb994ae5"),
    ("20250408_grenchen_C1F", "6e528500e130b8b161addc99cab97187f009ecb5f74897133b08836234e7e56e"),
    ("20250514_grenchen_68D", "4eb977407af14449953a7a736ffc75b4c60a253416fbe6da7fc952ca7d49164b"),
    ("20250514_grenchen_C1F", "72cdbd9908d0a04755fe50ce0084ba46c008000ffd099e336e3ebafbdfd51444"),
    ("20250523_birrfeld_yla", "414a96fa264f469de20f3bdaf3c172e9dc24447bf4c13085103081411355b25f"),
    ("20250523_birrfeld_ymv", "048ed2d0c51e009bc8a092d543257746a50da0fb63cff56ef8919039441d5e64"),
)


#: DJI video telemetry subtitles (``.SRT``), MIT: (repository, commit, path, aircraft,
#: layout, sha256). Layouts: ``bracket`` (``[latitude: ..] [longitude: ..]``, height
#: ``[rel_alt: ..`` above take-off or absolute ``[altitude: ..]``, or none),
#: ``gps-latlon`` (``GPS(lat,lon,altM) BAROMETER:hM``), ``gps-lonlat``
#: (``GPS(lon,lat,satellites)``, height ``BAROMETER:h`` or ``H hm``). Left out of
#: DJI_SRT_Parser's samples: ``old_format`` and ``mavic_2_style`` (the ``mavic_pro``
#: flight again), ``air2s``, ``mavic_air2``, ``p4p_sample``, ``p4_rtk`` (under 60 s),
#: ``mavic_air`` (no position), ``mix_p4rtk_mavic2pro`` and ``broken_*`` (parser tests);
#: of dji-srt-viewer's, ``sample0`` and ``sample4`` (= ``mavic_pro``, ``mavic_pro_buggy``).
_SRT_PARSER = ("JuanIrache/DJI_SRT_Parser", "b6ed7901b0f77dc8864eaeaf153914482bfba6da")
_SRT_VIEWER = ("JuanIrache/dji-srt-viewer", "8dcd5c27686919f2523db3cada3813d0c47ed924")
DJISRT_FILES: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        *_SRT_PARSER,
        "samples/MAVIC3.srt",
        "DJI Mavic 3",
        "bracket",
        "2e5945b7d9bce51568bde5cc6576bb3dcc4362cebe20a3a8588260cb82cdef23",
    ),
    (
        *_SRT_PARSER,
        "samples/matrice_300.srt",
        "DJI Matrice 300",
        "gps-latlon",
        "503f42e373b6c5edb0edf1bf2e03491e30af37bd98142a3499ece4c83d0fd9f9",
    ),
    (
        *_SRT_PARSER,
        "samples/m2zoom.SRT",
        "DJI Mavic 2 Zoom",
        "bracket",
        "1b5ead2b40975bb9f0e816c4320850a5d12f853a624a9c432fd253d14361a6a9",
    ),
    (
        *_SRT_PARSER,
        "samples/mavic_2pro_new.SRT",
        "DJI Mavic 2 Pro",
        "bracket",
        "7a0175271c11b9ca78fa400409bfada018207290acbaf5960c47176e009af188",
    ),
    (
        *_SRT_PARSER,
        "samples/mavic_mini.SRT",
        "DJI Mavic Mini",
        "gps-lonlat",
        "7ead21808d8dcdcfba01167838719b2e2d5b98b4c6150ed34302a1c859c94033",
    ),
    (
        *_SRT_PARSER,
        "samples/mavic_pro.SRT",
        "DJI Mavic Pro",
        "gps-lonlat",
        "cb74783a412f6bbd195d02b324b6674c36a5066ca1aee058302650b7beba4abf",
    ),
    (
        *_SRT_PARSER,
        "samples/mavic_pro_buggy.SRT",
        "DJI Mavic Pro",
        "gps-lonlat",
        "75708165c627400d11c4301d4728afd18ccef2f29da46d0faaf6bef84c8779e3",
    ),
    (
        *_SRT_VIEWER,
        "samples/sample1.SRT",
        "DJI quadcopter (Mavic Pro layout)",
        "gps-lonlat",
        "9bbade6ed2867d2d42febe6105d0a1bbbe3b6d85f68d5866d2c26502a5b18575",
    ),
    (
        *_SRT_VIEWER,
        "samples/sample2.SRT",
        "DJI quadcopter (Mavic Pro layout)",
        "gps-lonlat",
        "667fb75fd5f42542654b000a1f7a264540d2c307133b6691a78d45430eaaa219",
    ),
    (
        *_SRT_VIEWER,
        "samples/sample3.SRT",
        "DJI quadcopter (Mavic Pro layout)",
        "gps-lonlat",
        "5affea9296a5fbe11d6df8ba9f7c7c873203c97ee4069f91f65ab83c6b7344bd",
    ),
)


#: GPS tracks of homing pigeons (i-gotU GT-120 loggers, 1 fix a second) of Flack, Guilford
#: & Biro (2014), released at three sites near Oxford in 2011 (Dryad doi:10.5061/dryad.j444n,
#: CC0), as mirrored in dshizuka/RCourse: (``<regime>_<bird>_R<site>_<trial>``, sha256).
#: Two of each bird's 18 releases: the one with the longest flying run (``read_igotu``) and
#: the one with the longest flying run from another release site.
PIGEON_COMMIT = "1a9378eb731c0d0271ee9a79fd9a38672afbc928"
PIGEON_FILES: tuple[tuple[str, str], ...] = (
    ("A_A35_R1_02", "354dbd24907a0a785f6201d2993c5d01186a69558bfabe1f2974ab9c644570f7"),
    ("A_A35_R3_02", "a972661bdd82d1cde6551a8d7589cd644c9f1d33f3a55ed3f7d1e13317c1c68d"),
    ("A_A38_R1_01", "d264d1a879d62e4c7c247c792234ee134def5146fc894409a422310fc95339f9"),
    ("A_A38_R2_01", "b920ca5ba0449be76982d41dce1f61c90458a352ff6b8640f24eba07d1c7aa4a"),
    ("A_A45_R1_05", "8d740e1ec0a49c889b82960b5a3e65a04bbd45daf3261678415e9e4ea3bc9b0b"),
    ("A_A45_R3_01", "cba005b45c7696a49c7cbe3a21228a4ef2a5c4a281b6eafc6d5842d601616e4c"),
    ("A_D06_R1_06", "058e7a224c1e42ae1cb4aa9615d4c7fb67f55c0275cd3ee2ce4776d802dac60a"),
    ("A_D06_R3_05", "958b7ed2fb35c262621239f1cacd1e6a8acfeff2fd0810ee24795b78bcf33e93"),
    ("A_D09_R1_01", "2e3b03b917f07fa9f18d702c5564c965fde6708cd2b4b3adc1f00aa7c904241d"),
    ("A_D09_R3_03", "e8d26440b182c13ef259d0b09467051d399e1e0f63fb936da955291d8f520a12"),
    ("A_D16_R1_02", "c5aff00e97bb6782c4c18c93cb99eb494bd18463f77bc1a5beea4d744dd5dd59"),
    ("A_D16_R3_01", "f41393f429908e8acd79f0a5e509882e344b04dd21554affdfff773e9c675481"),
    ("A_D83_R1_01", "a9fddf04ae200f4c06eae869e46de3ecb978b9ca7e1ef22dd93879a2a0a6cf10"),
    ("A_D83_R2_02", "93d39a3418c52ef17d4f7f257476a660d0312352c380ba474b559cf81498d1d8"),
    ("A_D94_R2_01", "9df666ef0716f4b3a4a700c0ebd1340c98e601b3b239eb400b9b884f6c58be11"),
    ("A_D94_R3_01", "72527e3906c984c5af8777a6c0c99d30c32bfbdbfb8154af4676ba9d4803d958"),
    ("A_D96_R2_02", "12e7b6129f07c8f4bad6fdff5bfaa9c0b1e36245f0c84e0bc8df1a49a84242ef"),
    ("A_D96_R3_01", "2f1c4b05683a2640f8d53959bef54386d5bffa4a47d12b48971b615168ab3ad4"),
    ("B_A31_R1_02", "e69b29bae142f2b83c2010191d2d0e00b4bc3bf1e32fc662d3e300aed575b758"),
    ("B_A31_R2_01", "94a3cfa640ab35bc398824a7cd66ecde6ba8cef06d65fbd99b614ee224979287"),
    ("B_A34_R1_01", "43b3331982ab4b7bff444e315c9808a8c4492edbb4166596f129e45c2a32a47a"),
    ("B_A34_R2_03", "60e14f2d17947a2f73bac68f69f12bbd52467402f66f9147084b4130a25c2155"),
    ("B_D04_R1_02", "6336ede6a22c0b0ef6d66c79115928594dd8b694edd559d5cff92b28eb32088f"),
    ("B_D04_R2_02", "75c7e01a3f83cc539763137d8b933ea0e4cde7644dd6717f9015dfd3cedc6994"),
    ("B_D12_R2_05", "0452ebecb5249a7bf15d8088d3e6b39c5da8988f243db38ac3611d6c5e24eb95"),
    ("B_D12_R3_01", "cfa44067539f0ad91ecc0186b36c8b3c19d6989bafd11ef97e6d5bd4636114f5"),
    ("B_D86_R1_02", "fa92f08e98096dfd189cadf4287fbdf5349928c73d5ea701017247f274657005"),
    ("B_D86_R3_03", "c1bc958574bfe215103c2c5458db8b021df7d234c9e2f0f60dd1dc5bd00d85c1"),
    ("B_D90_R1_01", "5f4ff15d2972ee2fff6b1d696367266ad540f166e32261a184ceae9c8a51f259"),
    ("B_D90_R2_01", "5248c7ef811a2ac0b94422d1d7d1a3496c50092e5fbe3cb528b91a85ab5c633b"),
    ("B_D98_R1_02", "a6eddf2c34d2713634cc8ca0a1fe29cfb868386a7dc11d92429d8ad67b6c9b4e"),
    ("B_D98_R2_02", "b1b20c0cb7a3f01c011e43b974ffb1e7553c3782a5c3a2f9e0661e781b822fce"),
    ("C_A39_R1_01", "394603f79cbffaa5897655da184bc5b73f974f768562c7b5380ea2761ae9c704"),
    ("C_A39_R3_01", "4f2ae67e75191428d024ce3a0e023bfada7f5d44834e0278256731dfe1f5d0eb"),
    ("C_A43_R1_02", "d9c16f599790931229c8f39f92562f60b93b6f8b8ba102f20d52649791020462"),
    ("C_A43_R3_02", "bc5ffed66b1de76ecc951801c835b5265a8253571065c9a12bedb657b8194e22"),
    ("C_A47_R1_01", "f2b4e32710a541f772ab2062cf9102be70a5bf6a1648b7702ca148a541d40612"),
    ("C_A47_R3_01", "50c301b5681ab6131876ca30e54477c7c3d5c5548b02aa3ce7d96df71fa248eb"),
    ("C_D00_R1_01", "d421aa8c2140c2db9af132c313bda1809dce22036d8881ccaf8b09beceb586c1"),
    ("C_D00_R3_01", "9a8ff0199c1fdb157731f7b82e70087e3326b2d02782a3dc1213cc1f1317b8a0"),
    ("C_D01_R1_04", "2a3376a197d9608c5914569f5ef9ade20dc0594ff6f7c9850c18c237640a70cb"),
    ("C_D01_R3_03", "b3a754e86d8fbb14c2dd16ea9ceaec05c4f78a6cdf8d3e7a1c944b34819cddb1"),
    ("C_D08_R2_02", "45ade97bc84e69310b7552dae61ad791dc3b5a316d777457e84c3a5d8bc5e96d"),
    ("C_D08_R3_01", "5328c9cf5adc31a3d0d789befc0ad410329a8069f553db84836b17f6dd27c883"),
    ("C_D10_R2_01", "f9099c7c928ce5163925ae4f24218a32230b4c4e7fa46cb1a67f47de4f974aae"),
    ("C_D10_R3_01", "6dbd8aad7f55bc2550f49f09becdcbcb367e1c302215489e3f2540b93915e45c"),
    ("C_D15_R1_01", "9f1733f6d62d16910811903b45b2943d25394f6fb240ebcd9fdf1d924ec97f7a"),
    ("C_D15_R3_02", "cc53414a8109852c70bca41d31542f7dfa191ed0c89527d47bed16f488cb589b"),
    ("C_D88_R1_04", "59cb457b2a6570faae39436fb2d75a563ee72353f3b43d924ad0112744a7d082"),
    ("C_D88_R2_05", "67216ee8e38acd2fdd4a5123575470b1b78ebe919e11a69ec1d6138a8ade4eda"),
    ("C_D93_R1_03", "6fba510d1eefd8322710c9019460eb68a90f9ec32fe57c2ca89b96f8310f5ea2"),
    ("C_D93_R3_01", "e9bf455ed65c7ebf5beb039473b3faea8dcb0fa990b9842b22ea445f32f42ffa"),
)


#: GPS logs of captive raptors of a falconry park flying free at Rocamadour, France,
#: 25 June-1 July 2018, from a harness-effect experiment (the study the repository's
#: readme names "Effect of tag attachment on flight parameters across five raptor species",
#: Longarini et al.), in mscacco/Rocamadour_HarnessExperiment (MIT):
#: (``RawData/`` folder, file, individual, species code, sha256). Species by individual as
#: the repository's ``RawData/FlightSessions_harnessType_deviceID.csv`` and
#: ``RawData/Calibration_LoggersStartEnd.csv`` give them (codes as ``ROCA_SPECIES``; one
#: file name, ``Gipsy13_27june18_VFGaelle``, says VF for Gaelle, whom both tables give as VH
#: that day and every other). Chosen: Technosmart Gipsy-type loggers (4 or 5 fixes a second;
#: not the 1 Hz Ornitela loggers) with at least 20 minutes of steps faster than 4 m/s in the
#: raw fixes; of each individual's, the two with the most airborne time as ``read_roca``
#: finds it, on different days (on 1 July Hercule carried two loggers at once, leg-loop and
#: back-pack harness: the back-pack one, airborne 1 s longer). Left out:
#: ``GPS03_26jun18_RAV_KHAN_MANU`` (one logger on two tawny eagles in turn). 20 files of 11
#: individuals; Manu and Lafayette have one file each that qualifies.
ROCA_COMMIT = "a7db1918cee0d095138671c57b56b087f4f4c955"
ROCA_SPECIES = {
    "VF": "Gyps fulvus (griffon vulture)",
    "VH": "Gyps himalayensis (Himalayan vulture)",
    "VR": "Gyps rueppelli (Rüppell's vulture)",
    "CONDOR": "Vultur gryphus (Andean condor)",
    "RAV": "Aquila rapax (tawny eagle)",
    "PYGTB": "Haliaeetus leucocephalus (bald eagle)",
}
ROCAMADOUR_FILES: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "2018-06-25",
        "GPS-A_25jun18_PygLafayette_format.zip",
        "lafayette",
        "PYGTB",
        "20f0c3f63732333c8c002b2ff7235c78d277edba8a1e1297db3d9f307b405b2c",
    ),
    (
        "2018-06-25",
        "GPS03_25jun18_VFGregoire_format.zip",
        "gregoire",
        "VF",
        "65e1cd838e97c1a6ac5e5dab1b0d11f83763e3f62c5b87b76776e5bc3fac5550",
    ),
    (
        "2018-06-25",
        "GPS10_25jun18_VFHercule_format.zip",
        "hercule",
        "VF",
        "2fbc483c222ac6084fada9bf4e42e372995c22e6db90e4b2bcc0a89be12bb754",
    ),
    (
        "2018-06-25",
        "GPS13_25jun18_VFLeon_format.zip",
        "leon",
        "VF",
        "e92b916ecd333ca005faaae1b52038416172bfe3b805ad6f43b90ac014dcd35a",
    ),
    (
        "2018-06-25",
        "GPS14_25jun18_PIGDakota_format.zip",
        "dakota",
        "PYGTB",
        "e08065a27769979d46bcb2f3a98bd410cd41f4e81e3bd3d2d3bef59e36231b26",
    ),
    (
        "2018-06-27",
        "GPS-A_27june18_PIGDakota_format.zip",
        "dakota",
        "PYGTB",
        "9504a085314bd0b6215f2f8f9d98f6fa17cdc2ffa68ba8b46a958f48beca2a59",
    ),
    (
        "2018-06-27",
        "Gipsy13_27june18_VFGaelle_format.zip",
        "gaelle",
        "VH",
        "06fe4d8ae7562b8eaa0af00f2ba90a410d22ca21c17233ae2eec9a5babe16660",
    ),
    (
        "2018-06-27",
        "Gipsy4_27june18_VFGregoire_format.zip",
        "gregoire",
        "VF",
        "000c980ab08691834a9874606ee54c2efaa94f8f2624af5bd55f477493da0c3f",
    ),
    (
        "2018-06-28",
        "Gipsy14_28jun18_VRupKiricou_format.zip",
        "kirikou",
        "VR",
        "60ec78a358aaa8014bacbd9066453e4203bbef7017a3c2e3ce88aa905692f062",
    ),
    (
        "2018-06-28",
        "Gipsy4_28jun18_RavManu_format.zip",
        "manu",
        "RAV",
        "59ca8bcb186d1eedb396ad8d7da5b301edc7b05d9cea8b8a2d080722eb5655f4",
    ),
    (
        "2018-06-28",
        "Gipsy5_28jun18_Kuzco_format.zip",
        "kuzco",
        "CONDOR",
        "e235e0832963b61724b069c5f01fa0cb40ef3b19480d57b2448b15c4d872c6dd",
    ),
    (
        "2018-06-28",
        "Gipsy6_28jun18_VFHenry_format.zip",
        "henri",
        "VF",
        "a71627d90b7b2dde510e3cdb893c19ee518806ad4029dab0a4c2127c86beff28",
    ),
    (
        "2018-06-29",
        "Gipsy14_29jun18_VFLeon_format.zip",
        "leon",
        "VF",
        "89639d8c5f73f068db8b82bf3da02c65fc572e91be42439023db3d23872e37fc",
    ),
    (
        "2018-06-30",
        "Gipsy05_30jun18_ARupKiricou_format.zip",
        "kirikou",
        "VR",
        "55e9e5153f63b818d3b0bde0e7a3dd9da38456a373a6dda6ba9c36259509c112",
    ),
    (
        "2018-06-30",
        "Gipsy06_30jun18_VHGiselle_format.zip",
        "gisele",
        "VH",
        "0f20ae547a94254710527f03287468c38a919c3995b28160906808641a615365",
    ),
    (
        "2018-07-01",
        "GPS-B_1july18_CondorKuzco_format.zip",
        "kuzco",
        "CONDOR",
        "8136bd90732adb97162e61ad4c966b2f1630dbad38af346cec0b4e67981baa76",
    ),
    (
        "2018-07-01",
        "Gipsy04_01jul18_VFHercule_BackPack_format.zip",
        "hercule",
        "VF",
        "6aae72c04ac3a2211971441358b1f12d9d5e665dcaef7c20bb870451fd4a013b",
    ),
    (
        "2018-07-01",
        "Gipsy05_01jul18_VHGiselle_format.zip",
        "gisele",
        "VH",
        "327252c7ee2fc580219f90156451615d55c03aac34e2f568b3b6963d17842abf",
    ),
    (
        "2018-07-01",
        "Gipsy06_01jul18_VFHenri_format.zip",
        "henri",
        "VF",
        "ec8a2947d49259211c6e6d7ee68e56d2bd77934a498010c82e3871edb527486e",
    ),
    (
        "2018-07-01",
        "Gipsy14_01jul18_VHGaelle_format.zip",
        "gaelle",
        "VH",
        "1b68efe2d1877d52ac2e91cb2857b911e2aabc94a292a36116b07faa54fb7e6f",
    ),
)


def _roca_id(folder: str, name: str) -> str:
    """``2018-06-25``, ``GPS03_25jun18_VFGregoire_format.zip`` -> ``roca-20180625-gps03``."""
    return f"roca-{folder.replace('-', '')}-{name.split('_', 1)[0].lower()}"


def _pigeon_path(name: str) -> str:
    """``A_A35_R1_02`` -> its path in the repository."""
    regime, bird, site, _ = name.split("_")
    return f"data/Flack et al_Biology Letters/{site}/{regime}_{bird}/{name}.csv"


def _igcparser_file(path: str) -> str:
    return "igcparser_" + path.removeprefix("fixtures/").replace("/", "_")


SOURCES: tuple[Source, ...] = (
    Source(
        id="sula-rapanui",
        file="sula_GPS_raw.rda",
        repo="MiriamLL/sula",
        commit="14b2c683be683bb3282832401b94b53583d51922",
        path="data/GPS_raw.rda",
        licence="MIT",
        cls="bird",
        kind="Sula dactylatra (masked booby)",
        reader="sula",
    ),
    Source(
        id="larus-lapaz",
        file="larus_GSM_locs.RData",
        repo="MiriamLL/larus",
        commit="900397e2f9b58d090b924f05209a134099c1a438",
        path="data/GSM_locs.RData",
        licence="MIT",
        cls="bird",
        kind="Larus livens (yellow-footed gull)",
        reader="larus",
    ),
    Source(
        id="m2b-capegannet",
        file="m2b_track_CAGA_005.rdata",
        repo="ldbk/m2b",
        commit="9fc5404d1de8410953d792b817b02882a9925d5c",
        path="data/track_CAGA_005.rdata",
        licence="CC0-1.0",
        cls="bird",
        kind="Morus capensis (cape gannet)",
        reader="m2b",
    ),
    *(
        Source(
            id=f"igclib-{name.replace('_', '-')}",
            file=f"igclib_{name}.igc",
            repo="marcin-osowski/igc_lib",
            commit="14d683768e5f970abf612e978ed8ad98013d6d0d",
            path=f"testfiles/{name}.igc",
            licence="MIT",
            cls="glider",
            kind=kind,
            reader="igc",
        )
        for name, kind in (
            ("olsztyn", "sailplane (LX8000 flight recorder)"),
            ("new_zealand", "glider"),
            ("napret", "glider"),
            ("flight_with_middle_landing", "glider"),
        )
    ),
    *(
        Source(
            id="igcparser-" + Path(path).stem.lower().replace("_", "-"),
            file=_igcparser_file(path),
            repo="Turbo87/igc-parser",
            commit=commit,
            path=path,
            licence="MIT",
            cls="glider",
            kind="glider (competition flight recorder)",
            reader="igc",
        )
        for commit, path, _ in IGC_PARSER_FILES
    ),
    *(
        Source(
            id=f"dronedeploy-{name}",
            file=f"dronedeploy_{name}.log",
            repo="dronedeploy/flight-log-parser",
            commit=DRONEDEPLOY_COMMIT,
            path=f"testlog/{name}.log",
            licence="MIT",
            cls="drone-multirotor",
            kind=kind,
            reader="dronedeploy",
        )
        for name, kind, _ in DRONEDEPLOY_FILES
    ),
    *(
        Source(
            id="ocap-" + name.lower().replace("_", "-"),
            file=f"ocap_{name}.flp",
            repo="aschweiz/project-ocap",
            commit=OCAP_COMMIT,
            path=f"testflights/{name.rsplit('_', 1)[0]}/{name.rsplit('_', 1)[1]}.flp",
            licence="BSD-3-Clause",
            cls="aircraft",
            kind="light aircraft (powered; collision-warning test flights)",
            reader="flp",
        )
        for name, _ in OCAP_FILES
    ),
    Source(
        id="djilogparser-2015-12-29",
        file="djilogparser_output.json",
        repo="mikeemoo/dji-log-parser",
        commit="5c58666caaeab827f7edfb37ba147a79a20d462c",
        path="examples/output.json",
        licence="MIT",
        cls="drone-multirotor",
        kind="DJI quadcopter (DJI GO flight record)",
        reader="djijson",
    ),
    *(
        Source(
            id="djisrt-" + Path(path).stem.lower().replace("_", "-"),
            file="djisrt_" + Path(path).name,
            repo=repo,
            commit=commit,
            path=path,
            licence="MIT",
            cls="drone-multirotor",
            kind=f"{kind} (video telemetry)",
            reader=f"srt-{layout}",
        )
        for repo, commit, path, kind, layout, _ in DJISRT_FILES
    ),
    Source(
        id="opentx2gpx-crsf-2021-08-29",
        file="opentx2gpx_CRSF-2021-08-29.csv",
        repo="nkozawa/OpenTX2GPX",
        commit="13a57c3105b009e25a452c6d19c92d23c3e32622",
        path="samples/CRSF-2021-08-29.csv",
        licence="MIT",
        cls="drone-multirotor",
        kind="RC drone with Crossfire GPS telemetry (multirotor by its lift-off)",
        reader="edgetx",
    ),
    Source(
        id="px4tools-01-07-59",
        file="px4tools_01_07_59.px4log",
        repo="dronecrew/px4tools",
        commit="ff33b269c58691a6f2de9de006f73c5bdda60658",
        path="test/log/01_07_59.px4log",
        licence="BSD-3-Clause",
        cls="drone-multirotor",
        kind="PX4 multirotor (Pixhawk FMUv2), hover test",
        reader="sdlog2",
    ),
    Source(
        id="dvm-2018-07-04",
        file="dronevideomeasure_test_drone_log.csv",
        repo="egemose/DroneVideoMeasure",
        commit="c7dfdc331a9782df2f95c4e3fabc9a4261b518e9",
        path="tests/test_data/test_drone_log.csv",
        licence="MIT",
        cls="drone-multirotor",
        kind="DJI Phantom 4 Pro (DJI flight record as CSV), climb and hover",
        reader="djicsv",
    ),
    Source(
        id="havo-adsb",
        file="gissal_adsb1090-2019-07-12.txt",
        repo="GISSAL/ads-b",
        commit="07c86f60bc0f488dee9b1704ffc0e70775fdc3e2",
        path="adsb1090-2019-07-12.txt",
        licence="CC0-1.0",
        cls="helicopter",
        kind="tour helicopters (Airbus EC130, Bell 407), ADS-B",
        reader="adsb-helicopter",
    ),
    # After every other bird source, so that their flights keep their split (``split_of``).
    *(
        Source(
            id="pigeon-" + name.split("_", 1)[1].lower().replace("_", "-"),
            file=f"flack2014_{name}.csv",
            repo="dshizuka/RCourse",
            commit=PIGEON_COMMIT,
            path=_pigeon_path(name),
            licence="CC0-1.0",
            cls="bird",
            kind="Columba livia (homing pigeon)",
            reader="igotu",
        )
        for name, _ in PIGEON_FILES
    ),
    # After the pigeons, so that every earlier flight keeps its split.
    *(
        Source(
            id=_roca_id(folder, name),
            file=f"roca_{name}",
            repo="mscacco/Rocamadour_HarnessExperiment",
            commit=ROCA_COMMIT,
            path=f"RawData/{folder}/{name}",
            licence="MIT",
            cls="bird",
            kind=f"{ROCA_SPECIES[species]}, soaring",
            reader=f"roca-{individual}",
        )
        for folder, name, individual, species, _ in ROCAMADOUR_FILES
    ),
)

#: sha256 of each original, by file name (checked before anything is read).
ORIGINAL_SHA256: dict[str, str] = {
    "sula_GPS_raw.rda": "a2156b2ea7cb14a96ca1043079dedab9d39b0e9a192496319248d4be7f1293f2",
    "larus_GSM_locs.RData": "c58ecf4857fe8e3f8cbdae90f46f268ee3883086375878ad0ca2b5f45d68aa10",
    "m2b_track_CAGA_005.rdata": "008ffda9550b07c122f12c15caa81cdf54052a8cb722aa274198878567d2561e",
    "igclib_olsztyn.igc": "0063e46f8e4d1b912833fdc0a4e7e3bb18d70cb90a1f1df94675a80654ba5efa",
    "igclib_new_zealand.igc": "91a67e9283fdb6d5bdecd37250f2cbb9173f88f279881f95267310e22f3c2299",
    "igclib_napret.igc": "6f46e8550907b45e321702c79ec508112f7a31e2733ff39962bf4976fe966c13",
    "igclib_flight_with_middle_landing.igc": (
        "406ff3ce3a912bf231980ee3a5f9767affcd027cbfb66ad1491082f6442aeaca"
    ),
    **{_igcparser_file(path): sha for _, path, sha in IGC_PARSER_FILES},
    **{f"dronedeploy_{name}.log": sha for name, _, sha in DRONEDEPLOY_FILES},
    **{f"ocap_{name}.flp": sha for name, sha in OCAP_FILES},
    "djilogparser_output.json": "bf0d309999f49ebe57622c81a4f9119d2ff340caaa91b8a6e1c8c92053db2c06",
    **{"djisrt_" + Path(path).name: sha for _, _, path, _, _, sha in DJISRT_FILES},
    "opentx2gpx_CRSF-2021-08-29.csv": (
        "4be1b12f9813f295546354f1cd65b03842a81653d477898a601fa5024de62d8f"
    ),
    "px4tools_01_07_59.px4log": "15dc438491dccf1bfe85e8e2a9c38673a2232aa58c277cb2442183d154037c34",
    "dronevideomeasure_test_drone_log.csv": (
        "dbb8ab4ff644739f6139db1fd66aec9d6e1623e65d3822720443a088b42acf74"
    ),
    "gissal_adsb1090-2019-07-12.txt": (
        "d2e91a626d4b4f7106b97197443ca767331881e2e13bf522e75932b4e473696c"
    ),
    **{f"flack2014_{name}.csv": sha for name, sha in PIGEON_FILES},
    **{f"roca_{name}": sha for _, name, _, _, sha in ROCAMADOUR_FILES},
}

Flight = tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # id suffix, t, lat, lon, alt


def _read_rda(path: Path) -> dict:
    try:
        import rdata
    except ImportError:
        sys.exit("build_corpus: needs the 'rdata' package (pip install rdata)")
    with warnings.catch_warnings():
        # rdata warns about R classes it maps onto plain data frames.
        warnings.simplefilter("ignore")
        return rdata.read_rda(str(path))


def _dist_m(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    e, n, _ = pymap3d.geodetic2enu(lat, lon, 0.0, lat0, lon0, 0.0)
    return np.hypot(e, n)


def _split(t: np.ndarray, keep: np.ndarray, max_gap_s: float) -> Iterator[np.ndarray]:
    """Index arrays of runs where ``keep`` holds and no step exceeds ``max_gap_s``."""
    brk = np.flatnonzero(~keep | np.append(np.diff(t) > max_gap_s, False))
    start = 0
    for b in [*brk.tolist(), t.size]:
        idx = np.arange(start, b + 1 if b < t.size and keep[b] else b)
        idx = idx[keep[idx]]
        if idx.size:
            yield idx
        start = b + 1


BOUT_MIN_SPEED_MPS = 4.0
BOUT_MIN_STEPS = 3


def _trips(
    ids: np.ndarray,
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    away: Callable[[np.ndarray], np.ndarray],
    max_gap_s: float,
    min_fixes: int,
    min_range_m: float,
) -> Iterator[Flight]:
    """Flight bouts of each individual's trips away from its colony.

    A trip is a run of fixes away from the colony without a gap over
    ``max_gap_s`` (at least ``min_fixes`` fixes, reaching ``min_range_m``
    out); a flight bout is a run of at least ``BOUT_MIN_STEPS`` consecutive
    steps of the trip faster than ``BOUT_MIN_SPEED_MPS`` (slower steps are
    resting on the water or the ground, which no radar sees as flight).
    """
    for ind in sorted(set(ids.tolist())):
        sel = np.flatnonzero(ids == ind)
        sel = sel[np.argsort(t[sel], kind="stable")]
        ts, la, lo = t[sel], lat[sel], lon[sel]
        ok = np.append(np.diff(ts) > 0, True)
        ts, la, lo, sub = ts[ok], la[ok], lo[ok], sel[ok]
        k = 0
        for run in _split(ts, away(sub), max_gap_s):
            if run.size < min_fixes:
                continue
            if _dist_m(la[run], lo[run], la[run[0]], lo[run[0]]).max() < min_range_m:
                continue
            e, n, _ = pymap3d.geodetic2enu(la[run], lo[run], 0.0, la[run[0]], lo[run[0]], 0.0)
            fast = np.hypot(np.diff(e), np.diff(n)) / np.diff(ts[run]) >= BOUT_MIN_SPEED_MPS
            edges = np.diff(np.concatenate([[0], fast.astype(np.int8), [0]]))
            starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                if b - a < BOUT_MIN_STEPS:
                    continue
                bout = run[a : b + 1]
                k += 1
                nan = np.full(bout.size, np.nan)
                yield f"{ind}-{k:02d}".lower(), ts[bout], la[bout], lo[bout], nan


def read_sula(path: Path) -> Iterator[Flight]:
    df = _read_rda(path)["GPS_raw"]
    stamp = (df["DateGMT"].astype(str) + " " + df["TimeGMT"].astype(str)).tolist()
    t = np.array(
        [
            dt.datetime.strptime(s, "%d/%m/%Y %H:%M:%S").replace(tzinfo=dt.UTC).timestamp()
            for s in stamp
        ]
    )
    lat, lon = df["Latitude"].to_numpy(float), df["Longitude"].to_numpy(float)
    ids = df["IDs"].astype(str).to_numpy()
    # The colony: each bird's first fix; a trip is a run of fixes more than 1 km from it.
    first = {i: np.flatnonzero(ids == i)[0] for i in set(ids.tolist())}
    far = np.array(
        [_dist_m(lat[j], lon[j], lat[first[i]], lon[first[i]]) for j, i in enumerate(ids)]
    )

    def away(idx: np.ndarray) -> np.ndarray:
        return far[idx] > 1_000.0

    yield from _trips(ids, t, lat, lon, away, 30 * 60.0, 10, 3_000.0)


def read_larus(path: Path) -> Iterator[Flight]:
    df = _read_rda(path)["GSM_locs"]
    t = df["daytime"].to_numpy(float)
    lat, lon = df["Latitude"].to_numpy(float), df["Longitude"].to_numpy(float)
    ids = df["ID"].astype(str).to_numpy()
    outside = (df["central_base"].astype(str) != "inside_colony").to_numpy()
    good = np.isfinite(t) & np.isfinite(lat) & np.isfinite(lon)

    def away(idx: np.ndarray) -> np.ndarray:
        return outside[idx]

    yield from _trips(
        ids[good],
        t[good],
        lat[good],
        lon[good],
        lambda i: away(np.flatnonzero(good)[i]),
        90 * 60.0,
        6,
        5_000.0,
    )


def read_m2b(path: Path) -> Iterator[Flight]:
    df = _read_rda(path)["track_CAGA_005"]
    t = df["t"].to_numpy(float)
    lat, lon = df["y"].to_numpy(float), df["x"].to_numpy(float)
    flying = (df["b"].astype(str) == "3").to_numpy()
    # Flight bouts (observed on video) of at least 2 minutes at 5 s steps.
    k = 0
    for run in _split(t, flying, 30.0):
        if run.size < 24:
            continue
        k += 1
        yield f"bout-{k:02d}", t[run], lat[run], lon[run], np.full(run.size, np.nan)


def _igc_coord(s: str, deg_digits: int) -> float:
    deg = int(s[:deg_digits])
    minutes = int(s[deg_digits : deg_digits + 5]) / 1000.0
    v = deg + minutes / 60.0
    return -v if s[-1] in "SW" else v


def read_igc(path: Path) -> Iterator[Flight]:
    text = path.read_text(encoding="latin-1")
    date = None
    t, lat, lon, alt = [], [], [], []
    day = 0
    last = -1.0
    for line in text.splitlines():
        if line.startswith("HFDTE"):
            digits = "".join(ch for ch in line[5:] if ch.isdigit())[:6]
            date = dt.datetime.strptime(digits, "%d%m%y").replace(tzinfo=dt.UTC)
        elif line.startswith("B") and len(line) >= 35 and line[24] == "A":
            sod = int(line[1:3]) * 3600 + int(line[3:5]) * 60 + int(line[5:7])
            if last >= 0 and sod + day < last - 3600:
                day += 86_400  # past midnight UTC
            ts = sod + day
            if ts <= last:
                continue
            last = ts
            p_alt, g_alt = int(line[25:30]), int(line[30:35])
            t.append(ts)
            lat.append(_igc_coord(line[7:15], 2))
            lon.append(_igc_coord(line[15:24], 3))
            alt.append(g_alt if g_alt != 0 else p_alt)
    if date is None or len(t) < 2:
        return
    ta = np.asarray(t, float) + date.timestamp()
    la, lo, al = np.asarray(lat), np.asarray(lon), np.asarray(alt, float)
    e, n, _ = pymap3d.geodetic2enu(la, lo, 0.0, la[0], lo[0], 0.0)
    speed = np.hypot(np.diff(e), np.diff(n)) / np.diff(ta)
    # Airborne part only: from the first to the last step faster than 8 m/s.
    fast = np.flatnonzero(speed > 8.0)
    if fast.size < 2:
        return
    sl = slice(int(fast[0]), int(fast[-1]) + 2)
    ta, la, lo, al = ta[sl], la[sl], lo[sl], al[sl]
    # Keep the committed corpus small: at most one fix per IGC_MIN_DT_S, first IGC_MAX_S of flight.
    keep = _thin(ta, IGC_MIN_DT_S) & (ta - ta[0] <= IGC_MAX_S)
    if ta[keep][-1] - ta[0] < 600.0:
        return  # a test snippet, not a flight
    yield "flight", ta[keep], la[keep], lo[keep], al[keep]


IGC_MIN_DT_S = 2.0
IGC_MAX_S = 2 * 3600.0


FT_M = 0.3048
#: Recorded drones are thinned to at most one fix a second (the logs have ten).
DRONE_MIN_DT_S = 1.0


def read_dronedeploy(path: Path) -> Iterator[Flight]:
    """A DroneDeploy flight record: tab-separated, one row every 0.1 s.

    Metadata lines come first; the table starts at the header line beginning
    ``Date/Time (`` (UTC or GMT). Kept: the rows where the aircraft reports itself
    flying with a position, at most one a second. ``Aircraft Barometric
    Altitude (ft)`` is the height above the take-off point.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Date/Time ("))
    col = {name: i for i, name in enumerate(lines[start].split("\t"))}
    want = [
        col[c]
        for c in (
            "Elapsed Time (sec)",
            "Aircraft Latitude (Degrees)",
            "Aircraft Longitude (Degrees)",
            "Aircraft Barometric Altitude (ft)",
            "Aircraft Flying",
        )
    ]
    t: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    alt: list[float] = []
    for line in lines[start + 1 :]:
        cells = line.split("\t")
        if len(cells) <= max(want):
            continue  # a truncated last row
        ts, la, lo, al, flying = (cells[i] for i in want)
        if flying != "1" or float(la) == 0.0 or (t and float(ts) <= t[-1]):
            continue
        t.append(float(ts))
        lat.append(float(la))
        lon.append(float(lo))
        alt.append(float(al) * FT_M)
    if len(t) < 2:
        return
    ta = np.asarray(t)
    keep = _thin(ta, DRONE_MIN_DT_S)
    yield "flight", ta[keep], np.asarray(lat)[keep], np.asarray(lon)[keep], np.asarray(alt)[keep]


#: Time (s), latitude, longitude (deg) and height above take-off (m) of a DJI CSV record.
_DJICSV_COLUMNS = ("OSD.flyTime [s]", "OSD.latitude", "OSD.longitude", "OSD.height [m]")


def read_djicsv(path: Path) -> Iterator[Flight]:
    """A DJI flight record converted to CSV (``TXTlogToCSVtool`` layout: ``OSD.*`` columns).

    Latin-1 text, one row every 0.1 s. Kept: the rows where the aircraft reports
    itself in the air (``OSD.groundOrSky`` = ``Sky``) with a position, at most one a
    second; ``OSD.flyTime [s]`` is the time, ``OSD.height [m]`` the height above the
    take-off point. Nothing else is read (the record also names the aircraft's, its
    battery's and its remote controller's serial numbers).
    """
    with path.open(encoding="latin-1", newline="") as f:
        rows = list(csv.DictReader(f))
    t: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    alt: list[float] = []
    for r in rows:
        try:
            ts, la, lo, al = (float(r[c]) for c in _DJICSV_COLUMNS)
        except (TypeError, ValueError):
            continue  # a truncated row
        if r["OSD.groundOrSky"] != "Sky" or (la == 0.0 and lo == 0.0) or (t and ts <= t[-1]):
            continue
        t.append(ts)
        lat.append(la)
        lon.append(lo)
        alt.append(al)
    if len(t) < 2 or t[-1] - t[0] < DRONE_MIN_S:
        return
    ta = np.asarray(t)
    keep = _thin(ta, DRONE_MIN_DT_S)
    yield "flight", ta[keep], np.asarray(lat)[keep], np.asarray(lon)[keep], np.asarray(alt)[keep]


#: A powered light aircraft is airborne from its first to its last step faster than this
#: (above taxiing speed, below take-off speed).
AIRCRAFT_AIRBORNE_MPS = 20.0


def read_flp(path: Path) -> Iterator[Flight]:
    """A Project OCAP flight path: ``#Key : value`` header lines, then ``lon;lat;alt`` rows.

    Rows are ``#ResSec`` seconds apart from ``#OriginSec`` (second of the day);
    ``alt`` is GNSS altitude in metres. Kept: the airborne part (first to last
    step faster than ``AIRCRAFT_AIRBORNE_MPS``), the first ``IGC_MAX_S`` of it.
    """
    head: dict[str, str] = {}
    rows: list[list[float]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            head[key.strip()] = value.strip()
        elif line.strip():
            rows.append([float(v) for v in line.split(";")])
    a = np.asarray(rows)
    t = float(head["OriginSec"]) + np.arange(len(a)) * float(head["ResSec"])
    lon, lat, alt = a[:, 0], a[:, 1], a[:, 2]
    e, n, _ = pymap3d.geodetic2enu(lat, lon, 0.0, lat[0], lon[0], 0.0)
    fast = np.flatnonzero(np.hypot(np.diff(e), np.diff(n)) / np.diff(t) > AIRCRAFT_AIRBORNE_MPS)
    if fast.size < 2:
        return
    sl = slice(int(fast[0]), int(fast[-1]) + 2)
    t, lat, lon, alt = t[sl], lat[sl], lon[sl], alt[sl]
    keep = _thin(t, DRONE_MIN_DT_S) & (t - t[0] <= IGC_MAX_S)
    yield "flight", t[keep], lat[keep], lon[keep], alt[keep]


def read_djijson(path: Path) -> Iterator[Flight]:
    """A DJI flight record decoded to JSON: a list of ``{time, latitude, longitude, height}``.

    ``time`` is seconds from the record's start (10 a second), ``height`` metres
    above the take-off point. Kept: from the first to the last fix more than
    1 m up, at most one a second.
    """
    rows = json.loads(path.read_text(encoding="utf-8"))
    t = np.array([float(r["time"]) for r in rows])
    lat = np.array([float(r["latitude"]) for r in rows])
    lon = np.array([float(r["longitude"]) for r in rows])
    h = np.array([float(r["height"]) for r in rows])
    up = np.flatnonzero(h > 1.0)
    if up.size < 2:
        return
    sl = slice(int(up[0]), int(up[-1]) + 1)
    t, lat, lon, h = t[sl], lat[sl], lon[sl], h[sl]
    keep = _thin(t, DRONE_MIN_DT_S)
    yield "flight", t[keep], lat[keep], lon[keep], h[keep]


#: An OpenTX/EdgeTX telemetry log starts a new session (a new flight) after this long a gap.
EDGETX_SESSION_GAP_S = 10.0


def read_edgetx(path: Path) -> Iterator[Flight]:
    """An OpenTX/EdgeTX radio's telemetry log: CSV rows ``Date``, ``Time``, ``GPS`` ("lat lon"),
    ``Alt(m)`` (height above the arming point), 2 a second.

    The log holds several sessions; each is a flight: from its first to its
    last fix more than 1 m up, at most one fix a second, at least
    ``DRONE_MIN_S`` long.
    """
    t: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    alt: list[float] = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            pos = row["GPS"].split()
            if len(pos) != 2:
                continue
            stamp = dt.datetime.strptime(f"{row['Date']} {row['Time']}", "%Y-%m-%d %H:%M:%S.%f")
            ts = stamp.replace(tzinfo=dt.UTC).timestamp()
            if t and ts <= t[-1]:
                continue
            t.append(ts)
            lat.append(float(pos[0]))
            lon.append(float(pos[1]))
            alt.append(float(row["Alt(m)"]))
    ta, la, lo, al = np.asarray(t), np.asarray(lat), np.asarray(lon), np.asarray(alt)
    k = 0
    for run in _split(ta, np.ones(ta.size, bool), EDGETX_SESSION_GAP_S):
        k += 1
        up = run[al[run] > 1.0]
        if up.size < 2:
            continue
        sl = np.arange(up[0], up[-1] + 1)
        if ta[sl[-1]] - ta[sl[0]] < DRONE_MIN_S:
            continue
        keep = sl[_thin(ta[sl], DRONE_MIN_DT_S)]
        yield f"session-{k}", ta[keep], la[keep], lo[keep], al[keep]


_SRT_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)\s*-->")
_SRT_LAT = re.compile(r"\[latitude\s*:\s*(-?[\d.]+)\]")
_SRT_LON = re.compile(r"\[longt?itude\s*:\s*(-?[\d.]+)\]")
_SRT_REL_ALT = re.compile(r"\[rel_alt\s*:\s*(-?[\d.]+)")
_SRT_ABS_ALT = re.compile(r"\[altitude\s*:\s*(-?[\d.]+)\]")
_SRT_GPS = re.compile(r"GPS\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)M?\s*\)")
_SRT_HEIGHT = re.compile(r"BAROMETER:\s*(-?[\d.]+)|\bH (-?[\d.]+)m")
#: Drone logs with less airborne time than this are skipped (parser test snippets).
DRONE_MIN_S = 60.0


def _srt_reader(layout: str) -> Callable[[Path], Iterator[Flight]]:
    """A reader of DJI telemetry subtitles of one layout (see ``DJISRT_FILES``).

    Each subtitle block has a ``start --> end`` time code (video time) and a
    position; the fix is taken at the block's start. Where the height is above
    the take-off point, only the part from the first to the last fix more than
    1 m up is kept; the rest (absolute or no altitude) is kept whole, as the
    video was taken in flight.
    """

    def read(path: Path) -> Iterator[Flight]:
        text = path.read_text(encoding="utf-8-sig").replace("\r", "")
        t: list[float] = []
        lat: list[float] = []
        lon: list[float] = []
        alt: list[float] = []
        relative = layout != "bracket"
        for block in text.split("\n\n"):
            tc = _SRT_TIME.search(block)
            if tc is None:
                continue
            ts = int(tc[1]) * 3600 + int(tc[2]) * 60 + int(tc[3]) + int(tc[4]) / 1000.0
            if layout == "bracket":
                la, lo = _SRT_LAT.search(block), _SRT_LON.search(block)
                if la is None or lo is None:
                    continue
                y, x = float(la[1]), float(lo[1])
                rel, ab = _SRT_REL_ALT.search(block), _SRT_ABS_ALT.search(block)
                relative = rel is not None
                h = float(rel[1]) if rel else float(ab[1]) if ab else math.nan
            else:
                g = _SRT_GPS.search(block)
                hm = _SRT_HEIGHT.search(block)
                if g is None or hm is None:
                    continue
                a, b = float(g[1]), float(g[2])
                y, x = (a, b) if layout == "gps-latlon" else (b, a)
                h = float(hm[1] or hm[2])
            if (t and ts <= t[-1]) or (y == 0.0 and x == 0.0):
                continue
            t.append(ts)
            lat.append(y)
            lon.append(x)
            alt.append(h)
        ta, la_, lo_, al = np.asarray(t), np.asarray(lat), np.asarray(lon), np.asarray(alt)
        if relative:
            up = np.flatnonzero(al > 1.0)
            if up.size < 2:
                return
            sl = slice(int(up[0]), int(up[-1]) + 1)
            ta, la_, lo_, al = ta[sl], la_[sl], lo_[sl], al[sl]
        if ta.size < 2 or ta[-1] - ta[0] < DRONE_MIN_S:
            return
        keep = _thin(ta, DRONE_MIN_DT_S)
        yield "flight", ta[keep], la_[keep], lo_[keep], al[keep]

    return read


#: Field codes of self-describing "DataFlash" logs (PX4 sdlog2 and ArduPilot share the
#: framing): struct format of each code.
_DF_CODES = {
    "b": "b", "B": "B", "h": "h", "H": "H", "i": "i", "I": "I", "q": "q", "Q": "Q",
    "f": "f", "d": "d", "n": "4s", "N": "16s", "Z": "64s", "a": "64s",
    "c": "h", "C": "H", "e": "i", "E": "I", "L": "i", "M": "B",
}  # fmt: skip
_DF_HEAD = b"\xa3\x95"
_DF_FMT = 0x80


def _dataflash(data: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
    """Messages of a DataFlash-framed log, in file order: (name, {column: raw value}).

    Each message is ``A3 95 <type>`` and a body laid out by the FMT message
    (type 0x80: type, length, name, format, columns) that defined the type;
    bytes that do not start a known message are skipped.
    """
    fmts: dict[int, tuple[str, struct.Struct, list[str]]] = {
        _DF_FMT: (
            "FMT",
            struct.Struct("<BB4s16s64s"),
            ["Type", "Length", "Name", "Format", "Columns"],
        )
    }
    pos = 0
    while pos + 3 <= len(data):
        if data[pos : pos + 2] != _DF_HEAD or data[pos + 2] not in fmts:
            pos += 1
            continue
        name, st, cols = fmts[data[pos + 2]]
        if pos + 3 + st.size > len(data):
            return
        vals = st.unpack_from(data, pos + 3)
        pos += 3 + st.size
        if name == "FMT":
            typ, _, nm, fm, cl = vals
            fm_s = fm.rstrip(b"\0").decode("ascii")
            fmts[typ] = (
                nm.rstrip(b"\0").decode("ascii"),
                struct.Struct("<" + "".join(_DF_CODES[c] for c in fm_s)),
                cl.rstrip(b"\0").decode("ascii").split(","),
            )
        yield name, dict(zip(cols, vals, strict=True))


def read_sdlog2(path: Path) -> Iterator[Flight]:
    """A PX4 sdlog2 log (``.px4log``): the GPS receiver's fixes while the vehicle is not landed.

    ``GPS``: ``GPSTime`` (UTC microseconds), ``Fix`` (3 = 3-D), ``Lat``/``Lon``
    (1e-7 degrees), ``Alt`` (m above mean sea level); ``STAT.Landed`` (0 in
    the air). A fix is kept when 3-D, newer than the last kept, and the last
    status before it says airborne.
    """
    landed = 1
    t: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    alt: list[float] = []
    for name, m in _dataflash(path.read_bytes()):
        if name == "STAT":
            landed = int(m["Landed"])
        elif name == "GPS" and landed == 0 and int(m["Fix"]) >= 3:
            ts = int(m["GPSTime"]) / 1e6
            if t and ts <= t[-1]:
                continue
            t.append(ts)
            lat.append(int(m["Lat"]) * 1e-7)
            lon.append(int(m["Lon"]) * 1e-7)
            alt.append(float(m["Alt"]))
    if len(t) < 2:
        return
    ta = np.asarray(t)
    keep = _thin(ta, DRONE_MIN_DT_S)
    yield "flight", ta[keep], np.asarray(lat)[keep], np.asarray(lon)[keep], np.asarray(alt)[keep]


def _thin(t: np.ndarray, min_dt_s: float) -> np.ndarray:
    """Mask keeping a sample only if at least ``min_dt_s`` after the last kept one."""
    keep = np.zeros(t.size, bool)
    last = -np.inf
    for i, ti in enumerate(t.tolist()):
        if ti - last >= min_dt_s - 1e-9:
            keep[i] = True
            last = ti
    return keep


#: The helicopters among the ICAO addresses of the Hawai'i Volcanoes ADS-B log, with
#: their registration and ICAO type designator (FAA aircraft registry, looked up through
#: the Mictronics/tar1090 database; facts, not data taken into the corpus). Every other
#: address (airliners, tour aeroplanes) is left out.
HAVO_HELICOPTERS: dict[str, tuple[str, str]] = {
    "A02ACA": ("N11KQ", "EC30"),
    "A02B92": ("N11TQ", "EC30"),
    "A02C0F": ("N11YQ", "EC30"),
    "A02AFC": ("N11MQ", "EC30"),
    "A02B39": ("N11QA", "EC30"),
    "A02A4D": ("N11EQ", "EC30"),
    "A084A4": ("N132WS", "EC30"),
    "A4B5A7": ("N402SH", "B407"),
    "A4C89E": ("N407WH", "B407"),
    "AAFD2B": ("N807PH", "B407"),
}
#: A pause in an address's reports longer than this ends a flight (the logger, on the
#: ground, hears a tour helicopter only while it is in line of sight).
ADSB_MAX_GAP_S = 15.0
ADSB_MIN_S = 180.0


def read_adsb_helicopters(path: Path) -> Iterator[Flight]:
    """A day of a National Park Service ADS-B logger (tab-separated: ``HexID``,
    ``DateTime`` (the logger's clock, ``YYYY/MM/DD hh:mm:ss.fff``), ``Latitude``,
    ``Longitude``, ``Altitude`` in feet). The helicopters' reports, cut into flights at
    pauses over ``ADSB_MAX_GAP_S``, those of at least ``ADSB_MIN_S`` kept, at most one fix
    per ``IGC_MIN_DT_S``. Altitude is the transponder's pressure altitude (25 ft steps),
    not a geometric height: scenarios use its shape only (``alt_mode: lowest``)."""
    by: dict[str, list[tuple[float, float, float, float]]] = {}
    with path.open(encoding="ascii") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["HexID"] not in HAVO_HELICOPTERS:
                continue
            when = dt.datetime.strptime(row["DateTime"], "%Y/%m/%d %H:%M:%S.%f")
            by.setdefault(row["HexID"], []).append(
                (
                    when.replace(tzinfo=dt.UTC).timestamp(),
                    float(row["Latitude"]),
                    float(row["Longitude"]),
                    float(row["Altitude"]) * FT_M,
                )
            )
    for hex_id, fixes in by.items():
        a = np.array(sorted(fixes))
        a = a[np.concatenate([[True], np.diff(a[:, 0]) > 0])]
        segs = _split(a[:, 0], np.ones(len(a), bool), ADSB_MAX_GAP_S)
        flights = [seg for seg in segs if a[seg[-1], 0] - a[seg[0], 0] >= ADSB_MIN_S]
        reg = HAVO_HELICOPTERS[hex_id][0].lower()
        for k, seg in enumerate(flights):
            keep = seg[_thin(a[seg, 0], IGC_MIN_DT_S)]
            yield f"{reg}-{k + 1:02d}", a[keep, 0], a[keep, 1], a[keep, 2], a[keep, 3]


def _flying_runs(
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    smooth_s: float,
    flying_mps: float,
    max_gap_s: float,
) -> list[tuple[int, int]]:
    """Runs of flying steps of a track, as (index of the first fix, index of the last fix).

    A step (between two successive fixes) is flying where the track's speed smoothed over
    ``smooth_s`` exceeds ``flying_mps`` and the step is no longer than ``max_gap_s``. The
    smoothed speed of a step is the distance over the time of the steps whose middles lie
    within ``smooth_s`` centred on its middle (path length, so a bird circling in a
    thermal keeps its speed).
    """
    e, n, _ = pymap3d.geodetic2enu(lat, lon, 0.0, lat[0], lon[0], 0.0)
    step_m = np.hypot(np.diff(e), np.diff(n))
    step_s = np.diff(t)
    mid = 0.5 * (t[1:] + t[:-1])
    lo_i = np.searchsorted(mid, mid - smooth_s / 2.0, side="left")
    hi_i = np.searchsorted(mid, mid + smooth_s / 2.0, side="right")
    cum_m = np.concatenate([[0.0], np.cumsum(step_m)])
    cum_s = np.concatenate([[0.0], np.cumsum(step_s)])
    speed = (cum_m[hi_i] - cum_m[lo_i]) / (cum_s[hi_i] - cum_s[lo_i])
    flying = (speed > flying_mps) & (step_s <= max_gap_s)
    edges = np.diff(np.concatenate([[0], flying.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    # Steps a..b-1 span fixes a..b.
    return [(int(a), int(b)) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


#: A homing pigeon is flying where its speed, smoothed over ``IGOTU_SMOOTH_S``, exceeds
#: ``IGOTU_FLYING_MPS`` (it cruises at 15-20 m/s; sitting and walking stay far below).
IGOTU_FLYING_MPS = 8.0
#: Width (s) of the centred window of that smoothing (distance over time in the window).
IGOTU_SMOOTH_S = 15.0
#: A flying run has no step between fixes longer than this (the logger writes 1 a second)...
IGOTU_MAX_GAP_S = 10.0
#: ... and lasts at least this long (a homing flight, not a hop about the release site).
IGOTU_MIN_S = 300.0


def read_igotu(path: Path) -> Iterator[Flight]:
    """An i-gotU GPS logger's CSV (homing pigeons of Flack et al. 2014): CR line ends,
    header ``Date, Time, Latitude, Longitude, Altitude, Speed, Course, Type, Distance,
    Essential``, rows ``2011/05/24, 14:06:06, 51.861092, -1.240210, 73.09, ...``.

    Times are whole seconds, taken as UTC (the file names no zone); latitude and
    longitude are WGS-84 degrees. A row not later than the last kept one is dropped
    (now and then the logger stamps two successive fixes with the same second; the
    first is kept). Altitude is not kept: it is GPS altitude, noisy (the last fixes of
    51 of the corpus's 52 logs, all within 50 m of the loft, read 44-97 m), and
    scenarios fly birds at a constant height anyway. Kept: the longest flying run,
    steps whose speed smoothed over ``IGOTU_SMOOTH_S`` exceeds ``IGOTU_FLYING_MPS``
    without a gap over ``IGOTU_MAX_GAP_S``, if it lasts at least ``IGOTU_MIN_S``.
    Yields one flight: UTC seconds, WGS-84 degrees, no altitude.
    """
    text = path.read_text(encoding="latin-1")
    t: list[float] = []
    lat: list[float] = []
    lon: list[float] = []
    for line in text.splitlines()[1:]:
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 4 or not cells[0]:
            continue
        when = dt.datetime.strptime(f"{cells[0]} {cells[1]}", "%Y/%m/%d %H:%M:%S")
        ts = when.replace(tzinfo=dt.UTC).timestamp()
        if t and ts <= t[-1]:
            continue
        t.append(ts)
        lat.append(float(cells[2]))
        lon.append(float(cells[3]))
    if len(t) < 2:
        return
    ta, la, lo = np.asarray(t), np.asarray(lat), np.asarray(lon)
    runs = _flying_runs(ta, la, lo, IGOTU_SMOOTH_S, IGOTU_FLYING_MPS, IGOTU_MAX_GAP_S)
    if not runs:
        return
    # The longest run in time (the first of equals).
    span = np.array([ta[b] - ta[a] for a, b in runs])
    best = int(np.argmax(span))
    if span[best] < IGOTU_MIN_S:
        return
    run = slice(runs[best][0], runs[best][1] + 1)
    yield "flight", ta[run], la[run], lo[run], np.full(ta[run].size, np.nan)


#: Columns of a Technosmart logger's CSV (Gipsy, AxyTrek and their kin), as in the
#: Rocamadour files: date (``dd/mm/yyyy``), time of day (``hh:mm:ss`` with or without
#: a fraction), WGS-84 degrees, GPS altitude (m above mean sea level).
_ROCA_COLUMNS = ("Date", "Time", "Latitude", "Longitude", "height-above-msl")
#: A fix whose altitude (m above mean sea level) lies outside this open interval is
#: junk: the loggers write 65535 for a missing altitude (the 5 Hz ones also 0), and one
#: log not taken (the condor's of 30 June) falls to -1229 m while the bird sits in the park.
ROCA_ALT_RANGE_M = (0.0, 10_000.0)
#: The logs (4 or 5 fixes a second) are thinned to one fix a second, the simulator's grid.
ROCA_MIN_DT_S = 1.0
#: A raptor is flying where its speed, smoothed over ``ROCA_SMOOTH_S`` as for the pigeons
#: (``_flying_runs``), exceeds ``ROCA_FLYING_MPS``: the birds soar and glide at 8-20 m/s,
#: and outside the study's flight sessions (sitting on a perch or the falconer's fist) the
#: files taken read 0.6 m/s typically, under 3 m/s 99 % of the time. Height is no sign of
#: flight here: the park's perches, at about 270 m, stand 50-130 m above the lowest fixes
#: of the logs (the valley the birds fly down into), and the slow fixes within the study's
#: flight sessions are nearly all as low (the bird has landed somewhere).
ROCA_FLYING_MPS = 3.0
ROCA_SMOOTH_S = 15.0
#: A flying run has no step between the thinned fixes longer than this...
ROCA_MAX_GAP_S = 10.0
#: ... and lasts at least this long (shorter hops between perches are left out);
ROCA_MIN_S = 300.0
#: a run is cut into equal windows of at most this long (each thus at least ``ROCA_MIN_S``).
ROCA_MAX_S = 1200.0


def _roca_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a Rocamadour logger CSV, read from the zip file's one CSV if it is zipped
    (as in the repository; nothing is extracted to disk)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            (name,) = [n for n in z.namelist() if n.lower().endswith(".csv")]
            with z.open(name) as raw:
                yield from csv.DictReader(io.TextIOWrapper(raw, encoding="latin-1", newline=""))
    else:
        with path.open(encoding="latin-1", newline="") as f:
            yield from csv.DictReader(f)


def _roca_ms(date: str, time: str, day_ms: dict[str, int]) -> int | None:
    """UTC milliseconds of a ``dd/mm/yyyy`` date and an ``hh:mm:ss[.ff]`` time (whole
    numbers, so that thinning to 1 s is exact at 4 and 5 Hz); None if either is junk."""
    if date not in day_ms:
        try:
            day = dt.datetime.strptime(date, "%d/%m/%Y").replace(tzinfo=dt.UTC)
        except ValueError:
            return None  # e.g. 00/00/2000, a logger's row before its first fix
        day_ms[date] = int(day.timestamp()) * 1000
    try:
        h, m, sec = time.split(":")
        return day_ms[date] + (int(h) * 3600 + int(m) * 60) * 1000 + round(float(sec) * 1000.0)
    except ValueError:
        return None


def read_roca(path: Path, individual: str) -> Iterator[Flight]:
    """A Technosmart GPS logger's CSV of a raptor flying free at Rocamadour (zipped or not):
    columns ``_ROCA_COLUMNS`` among others (accelerometer, satellites, the study's flight
    session in ``behaviour``, not read), 4 or 5 rows a second.

    Times are UTC (the study's own metadata gives its take-off times in UTC, and they
    match these rows), to the millisecond; positions WGS-84 degrees; altitude GPS altitude
    in metres above mean sea level, kept: a soaring bird climbs in thermals and glides
    down, which is the flight this source adds. Dropped: rows without a position or with
    an unreadable date, a latitude or longitude of 0 or out of range, an altitude outside
    ``ROCA_ALT_RANGE_M``, and rows not later than the last kept one (a logger's clock
    steps back now and then, and one log ends with a day-old stretch). Then thinned to
    one fix per ``ROCA_MIN_DT_S``. Yielded: each flying run (``_flying_runs`` with
    ``ROCA_SMOOTH_S``, ``ROCA_FLYING_MPS``, ``ROCA_MAX_GAP_S``) of at least ``ROCA_MIN_S``,
    cut into equal windows of at most ``ROCA_MAX_S``, numbered through the file as
    ``<individual>-<nn>``: UTC seconds, WGS-84 degrees, metres above mean sea level.
    """
    day_ms: dict[str, int] = {}
    lo_alt, hi_alt = ROCA_ALT_RANGE_M
    t: list[int] = []
    lat: list[float] = []
    lon: list[float] = []
    alt: list[float] = []
    for row in _roca_rows(path):
        try:
            date, time, la_s, lo_s, al_s = (row[c] or "" for c in _ROCA_COLUMNS)
            la, lo, al = float(la_s), float(lo_s), float(al_s)
        except (KeyError, TypeError, ValueError):
            continue  # no fix in this row (or a truncated one)
        if not (0.0 < abs(la) <= 90.0 and 0.0 < abs(lo) <= 180.0 and lo_alt < al < hi_alt):
            continue
        ms = _roca_ms(date, time, day_ms)
        if ms is None or (t and ms <= t[-1]):
            continue
        t.append(ms)
        lat.append(la)
        lon.append(lo)
        alt.append(al)
    if len(t) < 2:
        return
    t_ms = np.asarray(t, dtype=np.int64)
    keep = _thin(t_ms.astype(float), ROCA_MIN_DT_S * 1000.0)
    ta = t_ms[keep] / 1000.0
    la_a, lo_a, al_a = np.asarray(lat)[keep], np.asarray(lon)[keep], np.asarray(alt)[keep]
    if ta.size < 2:
        return
    k = 0
    for a, b in _flying_runs(ta, la_a, lo_a, ROCA_SMOOTH_S, ROCA_FLYING_MPS, ROCA_MAX_GAP_S):
        span = ta[b] - ta[a]
        if span < ROCA_MIN_S:
            continue
        pieces = math.ceil(span / ROCA_MAX_S)
        cuts = np.searchsorted(ta[a : b + 1], ta[a] + span * np.arange(1, pieces) / pieces) + a
        for lo_i, hi_i in itertools.pairwise([a, *cuts.tolist(), b + 1]):
            k += 1
            sl = slice(lo_i, hi_i)
            yield f"{individual}-{k:02d}", ta[sl], la_a[sl], lo_a[sl], al_a[sl]


READERS: dict[str, Callable[[Path], Iterator[Flight]]] = {
    "sula": read_sula,
    "larus": read_larus,
    "m2b": read_m2b,
    "igc": read_igc,
    "dronedeploy": read_dronedeploy,
    "djicsv": read_djicsv,
    "sdlog2": read_sdlog2,
    "djijson": read_djijson,
    "flp": read_flp,
    "edgetx": read_edgetx,
    "adsb-helicopter": read_adsb_helicopters,
    "igotu": read_igotu,
    # One reader per individual: it names the individual's flights (``<individual>-<nn>``).
    **{
        f"roca-{ind}": partial(read_roca, individual=ind)
        for ind in sorted({f[2] for f in ROCAMADOUR_FILES})
    },
    **{f"srt-{layout}": _srt_reader(layout) for layout in ("bracket", "gps-latlon", "gps-lonlat")},
}
#: At most this many flights per source (keeps the committed corpus small).
MAX_PER_SOURCE = 50


def _round_robin(flights: list[Flight]) -> list[Flight]:
    """Flights ordered so that a cap takes some of every individual (``<individual>-<nn>``)."""
    rank: dict[str, int] = {}
    keyed = []
    for f in flights:
        ind = f[0].rsplit("-", 1)[0]
        rank[ind] = rank.get(ind, 0) + 1
        keyed.append((rank[ind], f[0]))
    order = sorted(range(len(flights)), key=lambda i: keyed[i])
    return [flights[i] for i in order]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flight_bytes(t: np.ndarray, lat: np.ndarray, lon: np.ndarray, alt: np.ndarray) -> bytes:
    """A flight as gzipped CSV, reproducible byte for byte."""
    buf = io.StringIO()
    buf.write("t_s,lat_deg,lon_deg,alt_m\n")
    t0 = t[0]
    for ti, la, lo, al in zip(t.tolist(), lat.tolist(), lon.tolist(), alt.tolist(), strict=True):
        a = "" if al != al else f"{al:.1f}"
        buf.write(f"{ti - t0:.3f},{la:.7f},{lo:.7f},{a}\n")
    return gzip.compress(buf.getvalue().encode(), compresslevel=9, mtime=0)


def split_of(i: int, n: int) -> str:
    """Every fourth flight of a class (in source order) is held out for evaluation."""
    if n < 2:
        return "train"
    return "eval" if i % 4 == 3 or (n < 4 and i == n - 1) else "train"


def build(originals: Path, out: Path, only: set[str] | None = None) -> list[dict[str, str]]:
    """Write every source's flights and the manifest; with ``only``, just those sources'
    flights, the manifest's other rows kept as they are (the same rows, in the same order,
    as a full build gives)."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    kept: dict[str, list[dict[str, str]]] = {}
    if only is not None:
        with (out / "manifest.csv").open(encoding="utf-8") as f:
            for r in csv.DictReader(f):
                kept.setdefault(r["source"], []).append(r)
    for src in SOURCES:
        if only is not None and src.id not in only:
            rows.extend(kept.get(src.id, []))
            continue
        path = originals / src.file
        if not path.is_file():
            sys.exit(f"build_corpus: missing original {path} ({src.repo}@{src.commit}:{src.path})")
        want = ORIGINAL_SHA256[src.file]
        got = sha256_file(path)
        if got != want:
            sys.exit(f"build_corpus: {path}: sha256 {got} is not the recorded {want}")
        flights = _round_robin(list(READERS[src.reader](path)))[:MAX_PER_SOURCE]
        for suffix, t, lat, lon, alt in flights:
            fid = f"{src.id}-{suffix}"
            data = flight_bytes(t, lat, lon, alt)
            (out / f"{fid}.csv.gz").write_bytes(data)
            rows.append(
                {
                    "flight_id": fid,
                    "file": f"{fid}.csv.gz",
                    "class": src.cls,
                    "type": src.kind,
                    "source": src.id,
                    "licence": src.licence,
                    "split": "",
                    "n_points": str(t.size),
                    "duration_s": f"{t[-1] - t[0]:.0f}",
                    "median_dt_s": f"{float(np.median(np.diff(t))):.1f}",
                    "has_alt": "yes" if np.isfinite(alt).all() else "no",
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    for cls in {r["class"] for r in rows}:
        mine = [r for r in rows if r["class"] == cls]
        for i, r in enumerate(mine):
            r["split"] = split_of(i, len(mine))
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return rows


SCENARIO_DURATION_S = 1200.0
SITE = {"name": "Real-flight test site", "lat": 53.9, "lon": 8.7, "alt_m": 10.0}
ZONES = [
    {
        "id": "Z1",
        "name": "Main site",
        "circle": {"east_m": 0.0, "north_m": 0.0, "radius_m": 400.0},
        "floor_m": 10.0,
        "ceiling_m": 610.0,
        "priority": 1,
    },
    {
        "id": "Z2",
        "name": "Fuel depot",
        "circle": {"east_m": 2500.0, "north_m": 1500.0, "radius_m": 300.0},
        "floor_m": 10.0,
        "ceiling_m": 410.0,
        "priority": 2,
    },
]
ZONE_CENTRES = {"Z1": (0.0, 0.0), "Z2": (2500.0, 1500.0)}
# The setup: radar with range/azimuth/elevation only, RF direction
# finders that hear only emitting drones, a camera, cooperative receivers.
SENSORS = [
    {
        "id": "radar-1",
        "kind": "radar",
        "pos_enu_m": [0.0, 0.0, 20.0],
        "max_range_m": 12000.0,
        "ref_range_m": 6000.0,
        "pd": 0.9,
        "pfa": 1.0e-6,
        "update_s": 1.0,
        "fov": {"az_min_deg": 0.0, "az_max_deg": 360.0, "el_min_deg": -1.0, "el_max_deg": 60.0},
        "clutter_per_scan": 2.0,
        "report_range_rate": False,
        "report_rcs": False,
    },
    {"id": "rf-1", "kind": "rf", "pos_enu_m": [100.0, -50.0, 10.0], "max_range_m": 6000.0},
    {"id": "rf-2", "kind": "rf", "pos_enu_m": [-1500.0, 800.0, 10.0], "max_range_m": 6000.0},
    {
        "id": "cam-1",
        "kind": "camera",
        "pos_enu_m": [0.0, 50.0, 15.0],
        "max_range_m": 4000.0,
        "update_s": 0.5,
        "pd": 0.8,
    },
    {"id": "adsb-1", "kind": "adsb", "pos_enu_m": [0.0, 0.0, 10.0], "max_range_m": 80000.0},
    {"id": "rid-1", "kind": "remoteid", "pos_enu_m": [0.0, 0.0, 10.0], "max_range_m": 3000.0},
]
#: Objects per scenario by corpus class (at most; fewer when the split has fewer flights).
PER_SCENARIO = {"bird": 12, "glider": 2}
N_SCENARIOS = {"train": 6, "eval": 3}


def _launch(rng: np.random.Generator, duration_s: float) -> float:
    """Scenario time of the log's start: a long log is already under way at the start."""
    if duration_s > SCENARIO_DURATION_S:
        return -float(round(rng.uniform(0.0, duration_s - SCENARIO_DURATION_S)))
    return float(round(rng.uniform(0.0, SCENARIO_DURATION_S - duration_s)))


def _bird(
    rng: np.random.Generator,
    row: dict[str, str],
    track: str,
    smooth_s: float = 0.0,
    alt_mode: str = "constant",
    agl_m: tuple[float, float] = (15.0, 200.0),
) -> dict:
    """A recorded bird: at a height drawn from ``agl_m`` (with ``alt_mode: constant`` the
    flight's height above the ground, with ``lowest`` that of the log's lowest fix), half
    of them centred near a zone, the others within 5 km of the site, any heading."""
    dt_fix = float(row["median_dt_s"])
    obj = {
        "kind": "recorded",
        "track": track,
        "truth_class": "bird",
        "alt_mode": alt_mode,
        "agl_m": float(round(rng.uniform(*agl_m))),
        "max_gap_s": float(max(10.0, round(3.0 * dt_fix))),
        **({"smooth_s": smooth_s} if smooth_s else {}),
        "launch_s": _launch(rng, float(row["duration_s"])),
    }
    if rng.random() < 0.5:
        # Near and across a zone: the track's centre on the zone, any heading.
        obj["aim_zone"] = str(rng.choice(list(ZONE_CENTRES)))
        obj["anchor"] = "centroid"
        obj["east_m"], obj["north_m"] = (float(round(v)) for v in rng.uniform(-800, 800, 2))
    else:
        obj["anchor"] = "centroid"
        obj["east_m"], obj["north_m"] = (float(round(v)) for v in rng.uniform(-5000, 5000, 2))
    obj["rotate_deg"] = float(round(rng.uniform(0.0, 360.0)))
    return obj


def _glider(rng: np.random.Generator, row: dict[str, str], track: str) -> dict:
    a = rng.uniform(0.0, 2.0 * np.pi)
    r = rng.uniform(3000.0, 8000.0)
    return {
        "kind": "recorded",
        "track": track,
        "truth_class": "aircraft",
        "anchor": "centroid",
        "east_m": float(round(r * np.sin(a))),
        "north_m": float(round(r * np.cos(a))),
        "rotate_deg": float(round(rng.uniform(0.0, 360.0))),
        "alt_mode": "lowest",
        "agl_m": 0.0,
        "max_gap_s": 30.0,
        "launch_s": _launch(rng, float(row["duration_s"])),
        "adsb": bool(rng.random() < 0.5),
    }


def _helicopter(rng: np.random.Generator, row: dict[str, str], track: str) -> dict:
    """A recorded helicopter placed as a glider is; its pressure altitude gives the
    shape of its height, its lowest fix 100-300 m above the ground (the logs are tour
    flights seen in line of sight of the logger, never on the ground)."""
    obj = _glider(rng, row, track)
    return {**obj, "truth_class": "helicopter", "agl_m": float(round(rng.uniform(100.0, 300.0)))}


#: Powered light aircraft are placed and flown as gliders are.
MAKERS = {"bird": _bird, "glider": _glider, "aircraft": _glider, "helicopter": _helicopter}
#: Objects per recorded-helicopter scenario by corpus class (besides the synthetic drones).
PER_HELICOPTER_SCENARIO = {**PER_SCENARIO, "helicopter": 8}
#: Objects per recorded-drone scenario by corpus class, besides the drones (the first
#: scenarios of each split predate the powered aircraft and keep PER_SCENARIO).
PER_DRONE_SCENARIO = {**PER_SCENARIO, "aircraft": 2}

#: Zone radii (m) of ZONES, for placing recorded hostile drones outside a zone's edge.
ZONE_RADII = {"Z1": 400.0, "Z2": 300.0}
#: A recorded hostile drone takes off this fraction of its farthest excursion outside
#: its zone's edge, so it enters the zone on its way out.
DRONE_HOME_OUT = 0.7


def _excursion(flight: Path) -> tuple[float, float]:
    """Distance (m) and bearing (deg) of a log's fix farthest from its first fix."""
    from skywarden.sim.recorded import read_track

    tr = read_track(flight)
    e, n, _ = pymap3d.geodetic2enu(tr.lat_deg, tr.lon_deg, 0.0, tr.lat_deg[0], tr.lon_deg[0], 0.0)
    i = int(np.argmax(np.hypot(e, n)))
    return float(np.hypot(e[i], n[i])), float(np.degrees(np.arctan2(e[i], n[i])) % 360.0)


#: Position grid (degrees) at or above which a log's fixes are rounded coarsely enough
#: to fake motion: older DJI video telemetry writes 4 decimals, an 11 m grid, so a
#: quadcopter at 5 m/s logged at 1 Hz stands still for a second or two and then jumps
#: a grid step (55-74 % of those logs' fixes repeat the one before; speeds read 0, 11,
#: 22 m/s in turn). No drone flies like that, and the classifier read the stop-go as
#: hovering (drone evidence) on slow legs and as a bird's wander on fast ones (a recorded
#: Mavic Pro entering the main site read bird 0.05-0.2 on its final run). Such a log is
#: flown smoothed by ``QUANTISED_SMOOTH_S``; flown so, slow multirotors read ``bird`` more
#: often (README, "Recorded drones flown as they flew").
QUANTISED_STEP_DEG = 1e-4
#: Gaussian sigma (s) of that smoothing: the largest whole second whose smoothed path
#: stays within the grid's own rounding error of the fixes (RMS 2.4-4.1 m against
#: 4.3 m for an 11 m grid; 3 s gave up to 6.4 m, cutting real turns), and which leaves
#: a multirotor's accelerations (95th percentile 1.0-2.5 m/s^2 against 11-15 raw).
QUANTISED_SMOOTH_S = 2.0


def _quantised(flight: Path) -> bool:
    """Whether every horizontal fix of a log lies on a ``QUANTISED_STEP_DEG`` grid."""
    from skywarden.sim.recorded import read_track

    tr = read_track(flight)
    q = np.concatenate([tr.lat_deg, tr.lon_deg]) / QUANTISED_STEP_DEG
    return bool(np.abs(q - np.round(q)).max() < 1e-3)


def _hostile_drone(
    rng: np.random.Generator, row: dict[str, str], track: str, zone: str, flight: Path
) -> dict:
    """A recorded drone flown into ``zone`` from a take-off point outside it.

    The logs start at take-off (or, for video telemetry, in flight), many come
    back to where they started, and they reach at most about a kilometre out.
    So the first fix is put outside the zone, ``DRONE_HOME_OUT`` of the
    farthest excursion from its edge, and the log is turned so that the
    excursion points at the zone's centre: the drone enters the zone on its
    way out. Heights are the log's own with its lowest fix on the ground; a
    2-D log flies at a constant height; a log rounded to an 11 m grid is flown
    smoothed (``QUANTISED_STEP_DEG``).
    """
    reach_m, reach_deg = _excursion(flight)
    side = float(round(rng.uniform(0.0, 360.0)))
    r = ZONE_RADII[zone] + DRONE_HOME_OUT * reach_m
    b = np.radians(side)
    duration = float(row["duration_s"])
    if row["has_alt"] == "yes":
        height: dict[str, object] = {"alt_mode": "lowest", "agl_m": 0.0}
    else:
        height = {"alt_mode": "constant", "agl_m": float(round(rng.uniform(30.0, 120.0)))}
    return {
        "kind": "recorded",
        "track": track,
        "truth_class": "drone",
        "hostile": True,
        "aim_zone": zone,
        "anchor": "first",
        "east_m": float(round(r * np.sin(b))),
        "north_m": float(round(r * np.cos(b))),
        # Clockwise turn taking the excursion's bearing to the one from take-off to the centre.
        "rotate_deg": float(round((side + 180.0 - reach_deg) % 360.0, 1)),
        **height,
        "max_gap_s": 10.0,
        **({"smooth_s": QUANTISED_SMOOTH_S} if _quantised(flight) else {}),
        # Take-off inside the scenario; a log longer than the scenario is cut at its end.
        "launch_s": float(round(rng.uniform(0.0, max(SCENARIO_DURATION_S - duration - 60.0, 0.0)))),
        "radio": bool(rng.random() < 0.5),
    }


#: Drone classes of the corpus flown as recorded hostile drones.
DRONE_CLASSES = ("drone-multirotor", "drone-fixedwing")

#: The threats of the first scenarios of each split (kept as they were, so their
#: scores stay comparable): the simulator's own synthetic drones. The recorded
#: drones of a split fly in one further scenario of that split (``_drone_scenario``).
SYNTHETIC_DRONES = [
    {
        "kind": "hostile_drone",
        "count": 1,
        "zone": "Z1",
        "start_range_m": [16000.0, 20000.0],
        "speed_mps": [25.0, 45.0],
        "cruise_agl_m": [50.0, 300.0],
        "launch_s": [0.0, 400.0],
        "radio_fraction": 0.5,
    },
    {
        "kind": "hostile_drone",
        "count": 1,
        "zone": "Z2",
        "start_range_m": [16000.0, 20000.0],
        "speed_mps": [25.0, 45.0],
        "cruise_agl_m": [50.0, 300.0],
        "launch_s": [0.0, 400.0],
        "radio_fraction": 0.5,
    },
    {
        "kind": "quadcopter",
        "count": 1,
        "hostile": True,
        "area": {"east_m": 800.0, "north_m": 600.0, "radius_m": 1000.0},
        "agl_m": [30.0, 120.0],
    },
    {
        "kind": "quadcopter",
        "count": 1,
        "remote_id": True,
        "area": {"east_m": -2000.0, "north_m": -1500.0, "radius_m": 1000.0},
    },
]


def write_scenarios(flights: Path, out: Path) -> list[Path]:
    """Scenario specs per split from the corpus manifest, each using only flights of its split."""
    import yaml

    with (flights / "manifest.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # The homing pigeons and the Rocamadour raptors fly in their own scenarios only
    # (``_bird_source_scenario``): the others draw from the corpus as it was
    # before them, and the pigeons' from the corpus before the raptors, so all stay as
    # they were.
    before_roca = [r for r in rows if not r["source"].startswith(ROCA_SOURCE_PREFIX)]
    older = [r for r in before_roca if not r["source"].startswith(PIGEON_SOURCE_PREFIX)]
    written: list[Path] = []
    for split, n in N_SCENARIOS.items():
        d = out / split
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.yaml"):
            old.unlink()

        def save(spec: dict, d: Path = d) -> None:
            path = d / f"{spec['name']}.yaml"
            path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
            written.append(path)

        for k in range(n):
            rng = np.random.default_rng([17, k, 0 if split == "train" else 1])
            objects = _pick_objects(rng, older, split, PER_SCENARIO)
            objects.extend(SYNTHETIC_DRONES)
            save(
                _spec(
                    f"real-{split}-{k + 1:02d}",
                    f"Recorded real flights (birds, gliders) of the {split} split relocated "
                    "to one site, with synthetic drones (no open drone logs yet); generated "
                    "by scripts/build_corpus.py --scenarios.",
                    objects,
                )
            )
        drones = [r for r in rows if r["split"] == split and r["class"] in DRONE_CLASSES]
        if drones:
            save(_drone_scenario(split, n + 1, older, drones))
        if any(r["split"] == split and r["class"] == "helicopter" for r in rows):
            save(_helicopter_scenario(split, n + 2, older))
        if any(r["split"] == split and r["source"].startswith(PIGEON_SOURCE_PREFIX) for r in rows):
            save(
                _bird_source_scenario(
                    split,
                    n + 3,
                    before_roca,
                    PIGEON_SOURCE_PREFIX,
                    "homing pigeons logged once a second (flown smoothed over 2 s)",
                    smooth_s=PIGEON_SMOOTH_S,
                )
            )
        if any(r["split"] == split and r["source"].startswith(ROCA_SOURCE_PREFIX) for r in rows):
            save(
                _bird_source_scenario(
                    split,
                    n + 4,
                    rows,
                    ROCA_SOURCE_PREFIX,
                    "captive vultures, eagles and a condor flying free at Rocamadour "
                    "(soaring in thermals, heights as logged)",
                    alt_mode="lowest",
                    agl_m=RAPTOR_LOWEST_AGL_M,
                )
            )
    return written


#: Source ids of the homing pigeons (``PIGEON_FILES``) start with this.
PIGEON_SOURCE_PREFIX = "pigeon-"
#: Gaussian sigma (s) of the smoothing the pigeons are flown with. The logger stamps whole
#: seconds, now and then two successive fixes with the same one; the second is dropped
#: (``read_igotu``), so the next one-second step spans two fixes: one-second speeds jump
#: to 35-50 m/s where the bird flew 15-20 (1.3 % of steps over 30 m/s, 99.9th percentile
#: 50, highest 93). A Gaussian of 2 s, the smoothing of the 11 m-grid DJI logs
#: (``QUANTISED_SMOOTH_S``), removes that (0.26 % over 30 m/s, 99.9th percentile 32,
#: highest 43) and stays 2.3-6.4 m RMS from the fixes (3 s: 4-12 m, cutting turns).
PIGEON_SMOOTH_S = 2.0


#: Source ids of the Rocamadour raptors (``ROCAMADOUR_FILES``) start with this.
ROCA_SOURCE_PREFIX = "roca-"
#: Height (m) above the site's ground of a raptor flight's lowest fix, drawn from this
#: interval; the rest of the flight keeps its logged height above that fix (climbs in
#: thermals of up to 1.9 km, descents to the park). The windows end or start near the
#: ground (take-off from and landing at the park), so the lowest fix stays low.
RAPTOR_LOWEST_AGL_M = (10.0, 60.0)


def _spec(name: str, description: str, objects: list[dict]) -> dict:
    """A real-flight scenario spec: the common site, zones and sensors, and ``objects``."""
    return {
        "name": name,
        "description": description,
        "duration_s": SCENARIO_DURATION_S,
        "site": SITE,
        "zones": ZONES,
        "sensors": SENSORS,
        "objects": objects,
    }


def _bird_source_scenario(
    split: str, k: int, rows: list[dict[str, str]], prefix: str, birds: str, **bird: Any
) -> dict:
    """Up to ``PER_SCENARIO["bird"]`` of the split's birds of the sources whose ids start
    with ``prefix`` (``birds`` says what they are), placed as the other birds are (``_bird``
    with ``bird``'s keywords), gliders of the split as in the first scenarios, and the
    synthetic drones as the threats: the pigeon (``PIGEON_SMOOTH_S``) and raptor
    (``RAPTOR_LOWEST_AGL_M``) scenarios."""
    rng = np.random.default_rng([17, k - 1, 0 if split == "train" else 1])
    pool = [r for r in rows if r["split"] == split and r["source"].startswith(prefix)]
    pick = rng.choice(len(pool), size=min(PER_SCENARIO["bird"], len(pool)), replace=False)
    objects = [_bird(rng, pool[i], _track_ref(pool[i]), **bird) for i in sorted(pick.tolist())]
    objects.extend(_pick_objects(rng, rows, split, {"glider": PER_SCENARIO["glider"]}))
    objects.extend(SYNTHETIC_DRONES)
    return _spec(
        f"real-{split}-{k:02d}",
        f"Recorded real flights of the {split} split relocated to one site: {birds} and "
        "gliders, with synthetic drones as the threats; generated by "
        "scripts/build_corpus.py --scenarios.",
        objects,
    )


def _helicopter_scenario(split: str, k: int, rows: list[dict[str, str]]) -> dict:
    """Birds and gliders of the split as in the first scenarios, up to
    ``PER_HELICOPTER_SCENARIO["helicopter"]`` of its recorded helicopters (half of them
    without a transponder) and the synthetic drones as the threats."""
    rng = np.random.default_rng([17, k - 1, 0 if split == "train" else 1])
    objects = _pick_objects(rng, rows, split, PER_HELICOPTER_SCENARIO)
    objects.extend(SYNTHETIC_DRONES)
    return _spec(
        f"real-{split}-{k:02d}",
        f"Recorded real flights of the {split} split relocated to one site: birds, "
        "gliders and tour helicopters (half without a transponder), with synthetic "
        "drones as the threats; generated by scripts/build_corpus.py --scenarios.",
        objects,
    )


def _track_ref(row: dict[str, str]) -> str:
    return (Path("..") / ".." / ".." / "data" / "flights" / row["file"]).as_posix()


def _pick_objects(
    rng: np.random.Generator, rows: list[dict[str, str]], split: str, per_class: dict[str, int]
) -> list[dict]:
    """Spec objects of up to ``per_class[c]`` flights of each class c of ``split``,
    drawn at random and placed by ``MAKERS[c]``."""
    objects = []
    for cls, per in per_class.items():
        pool = [r for r in rows if r["split"] == split and r["class"] == cls]
        if not pool:
            continue
        pick = rng.choice(len(pool), size=min(per, len(pool)), replace=False)
        for i in sorted(pick.tolist()):
            objects.append(MAKERS[cls](rng, pool[i], _track_ref(pool[i])))
    return objects


def _drone_scenario(
    split: str, k: int, rows: list[dict[str, str]], drones: list[dict[str, str]]
) -> dict:
    """A scenario whose hostile drones are the split's recorded drones, each flown into both zones.

    The flights are read from ``data/flights`` of the source tree.

    Birds, gliders and powered aircraft of the split are picked as in the other scenarios.
    """
    rng = np.random.default_rng([17, k - 1, 0 if split == "train" else 1])
    objects = _pick_objects(rng, rows, split, PER_DRONE_SCENARIO)
    for row in drones:
        for zone in ZONE_RADII:
            flight = ROOT / "data" / "flights" / row["file"]
            objects.append(_hostile_drone(rng, row, _track_ref(row), zone, flight))
    return _spec(
        f"real-{split}-{k:02d}",
        f"Recorded real flights of the {split} split relocated to one site: birds, "
        "gliders, light aircraft and, as the hostile drones, recorded real drone flights (each "
        "flown into both zones); generated by scripts/build_corpus.py --scenarios.",
        objects,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--originals", type=Path, default=Path.home() / ".cache" / "skywarden-corpus-originals"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "flights")
    ap.add_argument("--hashes", action="store_true", help="print the originals' sha256 and exit")
    ap.add_argument(
        "--only", nargs="+", metavar="SOURCE", help="rebuild only these sources' flights"
    )
    ap.add_argument(
        "--scenarios",
        action="store_true",
        help="only (re)write scenarios/real/{train,eval}/*.yaml from the corpus manifest",
    )
    a = ap.parse_args()
    if a.scenarios:
        paths = write_scenarios(a.out, ROOT / "scenarios" / "real")
        print(f"{len(paths)} scenario specs")
        return
    if a.hashes:
        for src in SOURCES:
            print(f"{src.file}  {sha256_file(a.originals / src.file)}")
        return
    rows = build(a.originals, a.out, set(a.only) if a.only else None)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["class"]] = counts.get(r["class"], 0) + 1
    print(f"{len(rows)} flights: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
