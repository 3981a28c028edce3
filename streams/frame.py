"""The decoded image that flows from a source through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame.

    Attributes:
        image: BGR uint8 array of shape (height, width, 3), as OpenCV and supervision expect.
        pts: presentation time in seconds from the start of the stream.
        wall: wall-clock time in seconds since the epoch (for files: file start time + pts).
        camera: id of the camera (for `vigil detect`, the file's stem).
        index: running number of the decoded frame, from 0.

    Example:
        >>> import numpy as np
        >>> f = Frame(np.zeros((2, 2, 3), np.uint8), pts=0.5, wall=1.7e9, camera="cam1", index=12)
        >>> f.shape
        (2, 2)
    """

    image: np.ndarray
    pts: float
    wall: float
    camera: str
    index: int

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the image."""
        return self.image.shape[0], self.image.shape[1]

    @classmethod
    def blank(cls, shape: tuple[int, int], wall: float = 0.0, pts: float = 0.0) -> Frame:
        """A black frame of (height, width), for examples and tests.

        >>> Frame.blank((48, 64), wall=5.0).shape
        (48, 64)
        """
        image = np.zeros((*shape, 3), np.uint8)
        return cls(image, pts=pts, wall=wall, camera="blank", index=0)
