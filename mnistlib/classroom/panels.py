"""The drawing pad's HTML panels: the big reading, the ten bars, the message line, captions, images and the CSS.

Plain strings and PNG bytes, no widget library: ``mnistlib.classroom.pad`` puts them on the page. The class
names and data attributes are what the browser tests read (``.mnist-reading`` and its ``data-*``,
``.mnist-message[data-kind]``): keep them stable. ``PAD_CSS`` lays the pad out for every screen, from a
320 px phone to a projector, in JupyterLab (by the width of the notebook's column) and in the students'
app (by the window: the app page marks ``<html>`` with ``mnist-app``, and ``mnist-projector`` for the
projector view).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from mnistlib.classroom.strokes import MODEL_VIEW_SIZE, UNSURE_BELOW, UploadTooLargeError

# What each step of mnistlib.preprocess.to_mnist does, for the captions of the steps panel.
STEP_CAPTIONS = {
    "grey": "in grey",
    "ink": "ink made bright",
    "cleaned": "background removed",
    "cropped": "cut to the ink",
    "fitted": "fitted into 20 x 20",
    "centred": "centred in 28 x 28",
}
# The pad's text alternative: what a screen reader says for the canvas, and the way round it without a pointer.
PAD_HELP = (
    "Drawing pad: draw one digit, 0 to 9, with the mouse, a finger or a pen; the model reads it as you "
    "draw. Without a mouse or touch screen, use the Upload button to read a picture of a digit."
)
MODEL_VIEW_ALT = "What the model sees: the drawing shrunk to 28 x 28 pixels, white ink on black"


def escape(text: str) -> str:
    """Return ``text`` safe to put inside HTML (quotes left as they are)."""
    return html.escape(text, quote=False)


def png_bytes(image: np.ndarray, size: int | None = None) -> bytes:
    """Encode a (H, W) image (uint8, or float in [0, 1]) as PNG, its long side enlarged to ``size`` px."""
    image = np.asarray(image)
    if image.dtype != np.uint8:  # floats in [0, 1], as mnistlib.preprocess.to_uint8 takes them
        image = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    image = Image.fromarray(image)
    if size is not None:
        # Nearest-neighbour keeps each MNIST pixel a crisp square instead of a blur.
        scale = size / max(image.size)
        new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(new_size, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_html(
    image: np.ndarray, alt: str, size: int | None = None, shown: int | None = None, css_class: str = ""
) -> str:
    """Render a (H, W) image as an ``<img>`` with its text alternative ``alt``, the PNG (see png_bytes) inline.

    ``shown``: the long side's size on the page in CSS px (the browser enlarges the PNG), else the PNG's own.
    """
    data = png_bytes(image, size)
    width, height = Image.open(io.BytesIO(data)).size
    if shown is not None:
        width, height = (round(side * shown / max(width, height)) for side in (width, height))
    return (
        f'<img class="{css_class}" alt="{html.escape(alt)}" width="{width}" height="{height}" '
        f'src="data:image/png;base64,{base64.b64encode(data).decode()}">'
    )


def model_view_html(model_input: np.ndarray) -> str:
    """Render the model's 28x28 input: its own pixels in the PNG, enlarged by the browser with square pixels."""
    return image_html(model_input, MODEL_VIEW_ALT, shown=MODEL_VIEW_SIZE, css_class="mnist-model-img")


def pad_help_html() -> str:
    """Render the pad's text alternative, for screen readers only (the app page also names the canvas with it)."""
    return f'<p class="mnist-sr-only">{escape(PAD_HELP)}</p>'


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


def prompt_html(
    text: str, digit: int | None, mode: str, paused: bool = False, round_digit: int | None = None
) -> str:
    """Render collect mode's prompt ("Draw a 3"): ``data-digit`` is the label the next save gets ("" if none yet).

    ``data-paused`` and ``data-round`` say whether the teacher paused saving or started a round of one digit.
    """
    label = "" if digit is None else str(digit)
    state = f'data-paused="{str(paused).lower()}" data-round="{"" if round_digit is None else round_digit}"'
    kind = " mnist-prompt-paused" if paused else ""
    return (
        f'<div class="mnist-prompt-text{kind}" data-digit="{label}" data-mode="{mode}" {state}>'
        f"{escape(text)}</div>"
    )


def upload_error_text(name: str, exc: Exception) -> str:
    """Return the message shown when an uploaded file ``name`` could not be read, naming the file."""
    from mnistlib.preprocess import BlankImageError, InvalidImageError  # imports PyTorch: only when needed

    if isinstance(exc, UploadTooLargeError):
        return f"{name} is {exc}"
    if isinstance(exc, (BlankImageError, InvalidImageError)):
        # The library's messages speak of "The bytes given": name the student's file instead.
        return f"Could not read {name}. {str(exc).replace('The bytes given', name)}"
    return f"Could not read {name} ({type(exc).__name__}: {exc}). Upload a PNG or JPEG picture of one digit."


def step_image_html(name: str, image: np.ndarray, size: int) -> str:
    """Render one preprocessing step's picture, its long side ``size`` px, described by what the step does."""
    return image_html(image, f"Step {name}: {STEP_CAPTIONS.get(name, name)}", size)


def caption_html(text: str) -> str:
    """Render a small centred caption (``text`` is HTML: escape what a user typed)."""
    return f'<div class="mnist-caption">{text}</div>'


def step_caption_html(name: str, shape: tuple[int, ...]) -> str:
    """Render the caption under one preprocessing step: its name, what it does and its size in pixels."""
    return caption_html(f"<b>{escape(name)}</b>: {STEP_CAPTIONS.get(name, '')}<br>{shape[1]} x {shape[0]} px")


# The pad's layout when it has no room for its columns side by side (a narrow notebook column, a phone
# held upright): one column, the reading beside the bars under the buttons, collect mode's Save right
# under the buttons. The draw and side columns dissolve (display: contents) so that ``order`` can
# interleave their parts; ``{p}`` scopes it (the app's portrait rule adds ``.mnist-app``).
_STACKED = """
{p}.mnist-pad .mnist-row {{flex-direction:column; flex-wrap:nowrap; align-items:center; row-gap:8px;
  --mnist-big:64px; --mnist-bar-font:12px; --mnist-bar-gap:1px; --mnist-bar-h:11px; --mnist-view:84px;}}
{p}.mnist-pad .mnist-draw, {p}.mnist-pad .mnist-side {{display:contents;}}
{p}.mnist-pad .mnist-prompt {{order:1;}}
{p}.mnist-pad .mnist-canvas {{order:2;}}
{p}.mnist-pad .mnist-buttons {{order:3;}}
{p}.mnist-pad .mnist-message {{order:4;}}
{p}.mnist-pad .mnist-collect {{order:5;}}
{p}.mnist-pad .mnist-result {{order:6; flex:none; flex-direction:row; align-items:flex-start; column-gap:12px;
  max-width:100%;}}
{p}.mnist-pad .mnist-model-menu {{order:7;}}
{p}.mnist-pad .mnist-model-input {{order:8; flex-direction:row; flex-wrap:wrap; justify-content:center;
  column-gap:12px;}}
{p}.mnist-pad :is(.mnist-prompt, .mnist-buttons, .mnist-message, .mnist-collect, .mnist-result,
  .mnist-model-menu, .mnist-model-input) {{width:var(--mnist-pad-size); max-width:100%;}}
{p}.mnist-pad .mnist-reading {{flex:0 0 36%; min-width:0;}}
{p}.mnist-pad .mnist-bars-panel {{flex:1 1 0; min-width:0;}}
"""

# One style sheet for the pad, scoped by class names. JupyterLab's theme variables keep it readable in
# the dark theme too; the fallbacks are for Voila's light theme. Sizes are custom properties on
# .mnist-pad: the canvas keeps PAD_SIZE pixels (what the model reads is the same at every size) and is
# shown --mnist-pad-size wide and high. In JupyterLab that is at most 280 px and never wider than the
# notebook's column (100cqw: .mnist-pad is a size container); the app fits it to the window.
PAD_CSS = (
    """<style>
.mnist-pad {container: mnist-pad / inline-size; overflow:visible; min-width:0;
  --mnist-pad-size: min(280px, 100cqw); --mnist-gap:24px; --mnist-control-h:28px; --mnist-result-w:240px;
  --mnist-side-w:200px; --mnist-big:96px; --mnist-small:13px; --mnist-button-font:13px; --mnist-bar-font:13px;
  --mnist-bar-gap:3px; --mnist-bar-h:14px; --mnist-view:140px;}
.mnist-pad > .mnist-style {display:none;}
.mnist-pad .mnist-row {display:flex; flex-flow:row wrap; align-items:flex-start; gap:16px var(--mnist-gap);
  overflow:visible;}
.mnist-pad .mnist-draw {flex:0 0 auto; width:var(--mnist-pad-size); max-width:100%; gap:6px; overflow:visible;}
.mnist-pad .mnist-result {flex:1 1 var(--mnist-result-w); min-width:min(200px, 100%); max-width:420px;
  overflow:visible;}
.mnist-pad .mnist-side {flex:0 1 var(--mnist-side-w); min-width:min(180px, 100%); gap:8px;
  align-items:stretch; overflow:visible;}
.mnist-pad .mnist-collect {gap:6px; overflow:visible;}
.mnist-pad .mnist-collect > .jupyter-button {width:100%;}
.mnist-pad .mnist-canvas {display:block; flex:none; padding:0; border:0; border-radius:6px;
  touch-action:none; cursor:crosshair;}
/* A button is never cut to "Cl...": on a small pad the buttons wrap to a second line instead. */
.mnist-pad .mnist-buttons {display:flex; flex-wrap:wrap; gap:4px; width:100%; overflow:visible;}
.mnist-pad .mnist-buttons > .jupyter-button {flex:1 1 0; margin:0; width:auto; min-width:max-content;}
.mnist-pad .mnist-buttons > .mnist-upload {flex-grow:1.3;}
.mnist-pad .jupyter-button {height:auto; min-height:var(--mnist-control-h); margin:0; padding:4px 5px;
  line-height:1.2; font-size:var(--mnist-button-font); touch-action:manipulation;}
.mnist-pad .jupyter-button i.fa {margin-right:0.3em;}
/* Font Awesome's glyphs are private characters: empty alternative text keeps them out of the buttons' names. */
.mnist-pad i.fa-eraser::before {content:"\\f12d" / "";}
.mnist-pad i.fa-undo::before {content:"\\f0e2" / "";}
.mnist-pad i.fa-upload::before {content:"\\f093" / "";}
.mnist-pad i.fa-eye::before {content:"\\f06e" / "";}
.mnist-pad i.fa-save::before {content:"\\f0c7" / "";}
.mnist-pad .widget-dropdown, .mnist-pad .widget-text {height:auto; width:100%; margin:0; align-items:center;
  line-height:1.2; font-size:var(--mnist-button-font);}
.mnist-pad .widget-dropdown > .widget-label, .mnist-pad .widget-text > .widget-label {line-height:1.2;
  width:auto !important; height:auto; flex:none; align-self:center; font-size:var(--mnist-button-font);
  color:var(--jp-ui-font-color1, #333);}
.mnist-pad .widget-dropdown > select, .mnist-pad .widget-text > input {height:auto;
  min-height:var(--mnist-control-h); font-size:var(--mnist-button-font);}
/* Too narrow for the label and the model's whole name side by side: the menu goes under its label. */
.mnist-pad .mnist-model-menu {flex-wrap:wrap; row-gap:4px;}
.mnist-pad .mnist-model-menu > select {flex:1 1 9em;}
.mnist-pad .widget-toggle-buttons {height:auto; width:100%; margin:0;}
.mnist-pad .widget-toggle-buttons > div {display:grid; grid-template-columns:repeat(2, minmax(0, 1fr));
  gap:4px; width:100%;}
.mnist-pad .mnist-label-picker > div {grid-template-columns:repeat(5, minmax(0, 1fr));}
.mnist-pad .widget-toggle-buttons .widget-toggle-button {width:auto; min-width:0; margin:0; padding:4px 2px;}
.mnist-pad .widget-toggle-button.mod-active {font-weight:700;}
.mnist-pad .mnist-save.mod-success {color:#fff; background-color:#2e7d32;}
.mnist-pad :is(button, select, input):focus-visible {outline:3px solid #1a5fb4 !important;
  outline-offset:2px;}
.mnist-pad .mnist-pad-help, .mnist-pad .mnist-sr-only {position:absolute; width:1px; height:1px; margin:-1px;
  padding:0; border:0; overflow:hidden; clip-path:inset(50%); white-space:nowrap;}
.mnist-pad .mnist-reading-box {text-align:center; width:100%;}
.mnist-pad .mnist-big {font: bold var(--mnist-big)/1.05 system-ui, sans-serif;
  color: var(--jp-ui-font-color0, #111);}
.mnist-pad .mnist-big.mnist-empty {color: var(--jp-ui-font-color2, #666);}
.mnist-pad .mnist-big.mnist-unsure {color:#a35c00;}
.mnist-pad .mnist-hint {font-size:var(--mnist-small); line-height:1.35; min-height:2.7em;
  color: var(--jp-ui-font-color1, #333);}
.mnist-pad .mnist-bars {width:100%; font: var(--mnist-bar-font)/1.2 system-ui, sans-serif;}
.mnist-pad .mnist-bar-row {display:flex; align-items:center; gap:0.45em; margin:var(--mnist-bar-gap) 0;
  color: var(--jp-ui-font-color1, #333);}
.mnist-pad .mnist-bar-label {width:1em; text-align:right; font-weight:600;}
.mnist-pad .mnist-bar-track {flex:1; height:var(--mnist-bar-h); border-radius:3px; overflow:hidden;
  background: var(--jp-layout-color2, #eee);}
.mnist-pad .mnist-bar-fill {display:block; height:100%; background:#9db4cc;}
.mnist-pad .mnist-top .mnist-bar-fill {background:#1f6fb4;}
.mnist-pad .mnist-top-unsure .mnist-bar-fill {background:#e08e0b;}
.mnist-pad .mnist-top, .mnist-pad .mnist-top-unsure {font-weight:700;}
.mnist-pad .mnist-bar-pct {width:3.4em; text-align:right; font-variant-numeric: tabular-nums;}
.mnist-pad .mnist-message-text {font-size:var(--mnist-small); line-height:1.35;
  color: var(--jp-ui-font-color1, #333);}
.mnist-pad .mnist-message-text.mnist-error {color:#c62828; font-weight:600;}
.mnist-pad .mnist-message-text.mnist-saved {color:#2e7d32; font-weight:600;}
.mnist-pad .mnist-message-text.mnist-paused, .mnist-pad .mnist-prompt-paused {color:#8a3b00; font-weight:600;}
.mnist-pad .mnist-prompt-text {font: 600 clamp(15px, 0.08 * var(--mnist-pad-size), 22px)/1.3 system-ui, sans-serif;
  text-align:center; margin:0; color: var(--jp-ui-font-color0, #111);} /* one line over the pad */
.mnist-pad .mnist-caption {font-size:var(--mnist-small); line-height:1.35; text-align:center;
  color: var(--jp-ui-font-color1, #333);}
.mnist-pad .mnist-model-input {align-items:center; gap:6px; overflow:visible;}
.mnist-pad .mnist-model-img {display:block; width:var(--mnist-view); height:var(--mnist-view);
  image-rendering:pixelated; border:1px solid #888;}
.mnist-pad .mnist-steps-toggle {width:max-content; min-width:var(--mnist-view);}
.mnist-pad .mnist-steps {flex-wrap:wrap; gap:12px; margin-top:8px; overflow:visible;}
.mnist-pad .mnist-steps img {image-rendering:pixelated; border:1px solid #888;}
@media (any-pointer: coarse) {
  .mnist-pad {--mnist-control-h:44px;}
}
@container mnist-pad (max-width: 543px) {"""
    + _STACKED.format(p="")
    + r"""}
/* The students' app: the pad as large as the window allows with its buttons (and, upright, the reading)
   in view; --mnist-above is the page's header height, measured by the page (counted on screens at least
   700 px high: on smaller ones the header scrolls away). Never under 210 px, the three buttons' width
   side by side. Touch-sized controls for every student. */
.mnist-app .mnist-pad {--mnist-gap:16px; --mnist-control-h:44px; --mnist-msg-h:calc(1.35 * var(--mnist-small));
  --mnist-result-w:260px; --mnist-side-w:240px; --mnist-above-used:0px; --mnist-head:0px; --mnist-edge:12px;
  --mnist-below: calc(3 * 8px + var(--mnist-control-h) + var(--mnist-msg-h));
  --mnist-w-limit: calc(100cqw - var(--mnist-result-w) - var(--mnist-gap));
  --mnist-h-limit: calc(100svh - var(--mnist-above-used) - var(--mnist-head) - var(--mnist-below)
    - var(--mnist-edge));
  --mnist-pad-size: max(210px, min(var(--mnist-w-limit), var(--mnist-h-limit), 1400px));
  --mnist-big: clamp(64px, 14svh, 160px); --mnist-small: clamp(13px, 1.5svh, 18px);
  --mnist-button-font: clamp(13px, 1.6svh, 20px); --mnist-bar-font: clamp(13px, 1.7svh, 22px);
  --mnist-bar-h: clamp(14px, 1.6svh, 20px);}
.mnist-app .mnist-pad canvas:focus {outline:none;} /* focused by a click only: the keyboard skips it */
.mnist-app .mnist-pad.mnist-collecting {--mnist-head:calc(1.3 * 22px + 6px);}
@media (min-width: 1000px) {
  /* Room for collect mode's column (Save, ask or pick) beside the pad and the reading. */
  .mnist-app .mnist-pad.mnist-collecting {
    --mnist-w-limit: calc(100cqw - var(--mnist-result-w) - var(--mnist-side-w) - 2 * var(--mnist-gap));}
}
.mnist-app .mnist-pad .mnist-side {min-width:min(var(--mnist-side-w), 100%);} /* five 44 px digits a row */
.mnist-app .mnist-pad .mnist-message {min-height:var(--mnist-msg-h);}
.mnist-app .mnist-pad .mnist-result {max-width:480px;}
@media (min-height: 700px) {
  .mnist-app .mnist-pad {--mnist-above-used: var(--mnist-above, 0px);}
}
@media (orientation: portrait) {"""
    + _STACKED.format(p=".mnist-app ")
    + r"""  .mnist-app .mnist-pad {--mnist-w-limit:100cqw; --mnist-result-h:calc(10 * (12px * 1.2 + 2px));
    --mnist-below: calc(5 * 8px + var(--mnist-control-h) + var(--mnist-msg-h) + var(--mnist-result-h));}
  .mnist-app .mnist-pad.mnist-collecting {--mnist-w-limit:100cqw;
    --mnist-below: calc(5 * 8px + 2 * var(--mnist-control-h) + var(--mnist-msg-h));}
}
/* The projector view (the app's ?view=projector): a reading and bars legible from the back of the room. */
.mnist-projector .mnist-pad {--mnist-control-h:max(44px, 6svh); --mnist-button-font:max(14px, 2.2svh);
  --mnist-small:max(13px, 2.2svh); --mnist-result-w:max(300px, 34cqw); --mnist-big:32svh;
  --mnist-bar-font:max(14px, 3.2svh); --mnist-bar-h:2.6svh; --mnist-bar-gap:0.5svh; --mnist-view:18svh;}
.mnist-projector .mnist-pad .mnist-result {max-width:none;}
.mnist-projector .mnist-pad .mnist-side {flex-basis:calc(var(--mnist-view) + 40px);}
</style>"""
)
