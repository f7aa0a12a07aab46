"""The drawing pad's HTML panels: the big reading, the ten bars, the message line, captions and the CSS.

Plain strings and PNG bytes, no widget library: ``mnistlib.classroom.pad`` puts them on the page. The class
names and data attributes are what the browser tests read (``.mnist-reading`` and its ``data-*``,
``.mnist-message[data-kind]``): keep them stable.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from mnistlib.classroom.strokes import UNSURE_BELOW, UploadTooLargeError
from mnistlib.preprocess import BlankImageError, InvalidImageError, to_uint8

# What each step of mnistlib.preprocess.to_mnist does, for the captions of the steps panel.
STEP_CAPTIONS = {
    "grey": "in grey",
    "ink": "ink made bright",
    "cleaned": "background removed",
    "cropped": "cut to the ink",
    "fitted": "fitted into 20 x 20",
    "centered": "centred in 28 x 28",
}


def escape(text: str) -> str:
    """Return ``text`` safe to put inside HTML (quotes left as they are)."""
    return html.escape(text, quote=False)


def png_bytes(image: np.ndarray, size: int | None = None) -> bytes:
    """Encode a (H, W) image (uint8, or float in [0, 1]) as PNG, its long side enlarged to ``size`` px."""
    image = Image.fromarray(to_uint8(image))
    if size is not None:
        # Nearest-neighbour keeps each MNIST pixel a crisp square instead of a blur.
        scale = size / max(image.size)
        new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(new_size, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def reading_state(probabilities: Sequence[float] | None, unsure_below: float = UNSURE_BELOW) -> str:
    """Return "blank" (nothing read), "unsure" (top probability under ``unsure_below``) or "digit"."""
    if probabilities is None:
        return "blank"
    return "unsure" if max(probabilities) < unsure_below else "digit"


def reading_html(
    state: str,
    digit: int | None = None,
    probabilities: Sequence[float] | None = None,
    strokes: int = 0,
    live: bool = False,
) -> str:
    """Render the big reading: ``state`` is "blank", "digit" or "unsure".

    The data attributes let tests read it: the digit, how many finished ``strokes`` it reads and
    whether it is a ``live`` reading taken while a stroke was still being drawn.
    """
    data = f'data-strokes="{strokes}" data-live="{str(live).lower()}"'
    if state == "blank" or digit is None or probabilities is None:
        return (
            f'<div class="mnist-reading-box" data-state="blank" data-digit="" {data}>'
            '<div class="mnist-big mnist-empty">?</div>'
            '<div class="mnist-hint">Draw a digit on the black pad</div></div>'
        )
    p = np.asarray(probabilities, dtype=float)
    top = p[digit]
    if state == "unsure":
        runner_up = int(np.argsort(p)[-2])
        hint = f"Not sure: {digit} ({top:.0%}) or {runner_up} ({p[runner_up]:.0%})?"
    else:
        hint = f"{top:.0%} sure"
    return (
        f'<div class="mnist-reading-box" data-state="{state}" data-digit="{digit}" {data}>'
        f'<div class="mnist-big mnist-{state}">{digit}</div>'
        f'<div class="mnist-hint">{hint}</div></div>'
    )


def bars_html(probabilities: Sequence[float] | None = None, unsure_below: float = UNSURE_BELOW) -> str:
    """Render ten horizontal bars, one per digit, the most probable one highlighted."""
    p = np.zeros(10) if probabilities is None else np.asarray(probabilities, dtype=float)
    top = int(p.argmax()) if probabilities is not None else -1
    rows = []
    for d in range(10):
        kind = ("mnist-top-unsure" if p[d] < unsure_below else "mnist-top") if d == top else ""
        rows.append(
            f'<div class="mnist-bar-row {kind}" data-digit="{d}" data-p="{p[d]:.4f}">'
            f'<span class="mnist-bar-label">{d}</span>'
            f'<span class="mnist-bar-track"><span class="mnist-bar-fill" style="width:{100 * p[d]:.1f}%">'
            f'</span></span><span class="mnist-bar-pct">{p[d]:.0%}</span></div>'
        )
    return '<div class="mnist-bars">' + "".join(rows) + "</div>"


def message_html(text: str = "", kind: str = "info") -> str:
    """Render the message line under the pad: ``kind`` is "info", "error", or in collect mode "saved" or "blank"."""
    if not text:
        return '<div class="mnist-message-text" data-kind="none"></div>'
    return f'<div class="mnist-message-text mnist-{kind}" data-kind="{kind}">{escape(text)}</div>'


def prompt_html(text: str, digit: int | None, mode: str) -> str:
    """Render collect mode's prompt ("Draw a 3"): ``data-digit`` is the label the next save gets ("" if none yet)."""
    label = "" if digit is None else str(digit)
    return f'<div class="mnist-prompt-text" data-digit="{label}" data-mode="{mode}">{escape(text)}</div>'


def upload_error_text(name: str, exc: Exception) -> str:
    """Return the message shown when an uploaded file ``name`` could not be read, naming the file."""
    if isinstance(exc, UploadTooLargeError):
        return f"{name} is {exc}"
    if isinstance(exc, (BlankImageError, InvalidImageError)):
        # The library's messages speak of "The bytes given": name the student's file instead.
        return f"Could not read {name}. {str(exc).replace('The bytes given', name)}"
    return f"Could not read {name} ({type(exc).__name__}: {exc}). Upload a PNG or JPEG picture of one digit."


def caption_html(text: str) -> str:
    """Render a small centred caption (``text`` is HTML: escape what a user typed)."""
    return f'<div class="mnist-caption">{text}</div>'


def step_caption_html(name: str, shape: tuple[int, ...]) -> str:
    """Render the caption under one preprocessing step: its name, what it does and its size in pixels."""
    return caption_html(f"<b>{escape(name)}</b>: {STEP_CAPTIONS.get(name, '')}<br>{shape[1]} x {shape[0]} px")


# One style sheet for the pad's HTML panels, scoped by class names. JupyterLab's theme variables
# keep it readable in the dark theme too; the fallbacks are for Voila's light theme.
PAD_CSS = """<style>
.mnist-pad .mnist-reading-box {text-align:center; width:100%;}
.mnist-pad .mnist-big {font: bold 96px/1.05 system-ui, sans-serif;
  color: var(--jp-ui-font-color0, #111);}
.mnist-pad .mnist-big.mnist-empty {color: var(--jp-ui-font-color3, #bbb);}
.mnist-pad .mnist-big.mnist-unsure {color: #c77700;}
.mnist-pad .mnist-hint {font-size:13px; line-height:1.35; min-height:2.7em;
  color: var(--jp-ui-font-color2, #555);}
.mnist-pad .mnist-bars {width:100%; font: 13px/1.2 system-ui, sans-serif;}
.mnist-pad .mnist-bar-row {display:flex; align-items:center; gap:6px; margin:3px 0;
  color: var(--jp-ui-font-color1, #333);}
.mnist-pad .mnist-bar-label {width:1em; text-align:right; font-weight:600;}
.mnist-pad .mnist-bar-track {flex:1; height:14px; border-radius:3px; overflow:hidden;
  background: var(--jp-layout-color2, #eee);}
.mnist-pad .mnist-bar-fill {display:block; height:100%; background:#9db4cc;}
.mnist-pad .mnist-top .mnist-bar-fill {background:#1f6fb4;}
.mnist-pad .mnist-top-unsure .mnist-bar-fill {background:#e08e0b;}
.mnist-pad .mnist-top, .mnist-pad .mnist-top-unsure {font-weight:700;}
.mnist-pad .mnist-bar-pct {width:3.4em; text-align:right; font-variant-numeric: tabular-nums;}
.mnist-pad .mnist-message-text {font-size:13px; line-height:1.35; margin-top:4px;
  color: var(--jp-ui-font-color2, #555);}
.mnist-pad .mnist-message-text.mnist-error {color:#c62828; font-weight:600;}
.mnist-pad .mnist-message-text.mnist-saved {color:#2e7d32; font-weight:600;}
.mnist-pad .mnist-prompt-text {font: 600 22px/1.3 system-ui, sans-serif; text-align:center;
  margin: 0 0 6px; color: var(--jp-ui-font-color0, #111);}
.mnist-pad .mnist-label-picker .widget-toggle-button {padding: 0;}
.mnist-pad .mnist-caption {font-size:12px; line-height:1.35; text-align:center;
  color: var(--jp-ui-font-color2, #555);}
.mnist-pad .mnist-row {gap: 24px;}
.mnist-pad .mnist-steps-row {gap: 12px; margin-top: 8px;}
.mnist-pad .mnist-canvas {border-radius:6px; touch-action:none; cursor:crosshair;}
.mnist-pad .mnist-model-input img {image-rendering: pixelated; border:1px solid #888;}
</style>"""
