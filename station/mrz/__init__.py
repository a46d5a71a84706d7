"""The MRZ path: camera frame -> the three TD1 lines -> checked fields -> the chip's access key.

- ``station.mrz.td1``: check digits (the one implementation; ``station.icao.mrz`` uses it),
  the TD1 layout of Vietnamese cards and of ICAO documents, conservative correction of OCR
  confusions, parsing with every check (``parse_lines``, pure, never raises).
- ``station.mrz.glyphs``: the OCR-B glyph model (templates + linear discriminant) shipped in
  ``ocrb.npz`` and its generator (``python -m station.mrz.glyphs``).
- ``station.mrz.locate``: finding the MRZ block in a grayscale frame (numpy + Pillow).
- ``station.mrz.ocr``: reading a located line with the glyph model.
- ``station.mrz.reader``: ``MrzReader.read(frame)`` (locate + read + parse) and
  ``MrzTracker`` (two agreeing frames, one event per presentation).

Nothing is imported here so that ``station.mrz.td1`` stays light (no numpy).
"""
