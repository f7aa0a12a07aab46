"""The classroom product: the drawing pad, collect mode, the class store, and the pad's speed route.

    from mnistlib.classroom import DrawingPad, ClassStore
    DrawingPad()                      # draw a digit and watch the model read it (notebook 04)
    DrawingPad(collect=True)          # ask the class for digits and save them (notebook 06)
    ClassStore().images()             # the class's saved drawings
    class_summary()                   # what the teacher's live view shows, in a notebook

Nothing in the lessons' core modules imports this package. Its names are imported when first
used, so a kernel that only reads digits never loads the widget libraries.
"""

from importlib import import_module

_HOMES = {
    "ClassImages": "store",
    "ClassStore": "store",
    "ClassStoreError": "store_file",
    "ClassSummary": "class_view",
    "Collector": "collect",
    "DrawingPad": "pad",
    "Strokes": "strokes",
    "UNSURE_BELOW": "strokes",
    "class_summary": "store",
    "fast_predict": "fast_route",
    "preprocessing_steps": "strokes",
    "sample_class": "store",
}
__all__ = list(_HOMES)


def __getattr__(name: str) -> object:
    """Import the module that holds ``name`` the first time it is asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module 'mnistlib.classroom' has no attribute {name!r}")
    return getattr(import_module(f"mnistlib.classroom.{_HOMES[name]}"), name)
