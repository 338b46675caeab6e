"""`deepgrad.onnx`: export a model to ONNX by tracing its forward pass.

    import deepgrad as dg
    dg.onnx.export(model, x, "model.onnx", opset_version=17)

Needs the optional `onnx` extra (`pip install 'deepgrad[onnx]'`); importing this
package does not, only `export` does.  Lowerings are registered per primitive
name with `@lowering("name")` (see `lowering.py`); a layer with a native ONNX
operator is exported as one node by a module lowering,
`register_module_lowering(cls, fn)` (see `modules.py`; the recurrent layers,
cells and `nn.Embedding` in `recurrent.py`).
"""

from . import lowerings as _lowerings  # registers the lowerings
from . import recurrent as _recurrent  # registers the recurrent and embedding module lowerings
from .export import MAX_OPSET, MIN_OPSET, export
from .lowering import LOWERINGS, LoweringContext, UnsupportedPrimitiveError, lowering
from .modules import MODULE_LOWERINGS, call_arguments, module_lowering, register_module_lowering
from .trace import Dyn, Graph, Node, Value, trace

__all__ = [
    "LOWERINGS",
    "MAX_OPSET",
    "MIN_OPSET",
    "MODULE_LOWERINGS",
    "Dyn",
    "Graph",
    "LoweringContext",
    "Node",
    "UnsupportedPrimitiveError",
    "Value",
    "call_arguments",
    "export",
    "lowering",
    "module_lowering",
    "register_module_lowering",
    "trace",
]
