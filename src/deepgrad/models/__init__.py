"""`deepgrad.models`: the model zoo (LeNet-5, AlexNet, VGG, ResNet, GoogLeNet, Xception,
DenseNet, FCN-8s, U-Net), transfer-learning helpers and interpretability tools.

Every constructor takes `num_classes` and `in_channels`:

    import deepgrad as dg
    model = dg.models.resnet18(num_classes=10)
"""

from . import generative, interpret, transfer
from .densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121, densenet_bc
from .hypernet import HyperMLP
from .inception import (
    BasicConv2d,
    GoogLeNet,
    InceptionModule,
    MiniXception,
    SeparableConv2d,
    XceptionBlock,
    googlenet_small,
    xception_small,
)  # fmt: skip
from .interpret import (
    gradient_x_input,
    integrated_gradients,
    occlusion,
    saliency,
    smoothgrad,
)  # fmt: skip
from .lenet import AlexNet, LeNet5, alexnet, lenet5
from .resnet import (
    BasicBlock,
    Bottleneck,
    CifarResNet,
    ResNet,
    resnet18,
    resnet20,
    resnet34,
    resnet50,
    resnet56,
)  # fmt: skip
from .segmentation import FCN8s, UNet, bilinear_kernel, fcn8s, unet
from .transfer import freeze, load_backbone, param_groups, replace_head, unfreeze
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = [
    "VGG",
    "AlexNet",
    "BasicBlock",
    "BasicConv2d",
    "Bottleneck",
    "CifarResNet",
    "DenseBlock",
    "DenseLayer",
    "DenseNet",
    "FCN8s",
    "GoogLeNet",
    "HyperMLP",
    "InceptionModule",
    "LeNet5",
    "MiniXception",
    "ResNet",
    "SeparableConv2d",
    "Transition",
    "UNet",
    "XceptionBlock",
    "alexnet",
    "bilinear_kernel",
    "densenet121",
    "densenet_bc",
    "fcn8s",
    "freeze",
    "generative",
    "googlenet_small",
    "gradient_x_input",
    "integrated_gradients",
    "interpret",
    "lenet5",
    "load_backbone",
    "occlusion",
    "param_groups",
    "replace_head",
    "resnet18",
    "resnet20",
    "resnet34",
    "resnet50",
    "resnet56",
    "saliency",
    "smoothgrad",
    "transfer",
    "unet",
    "unfreeze",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "xception_small",
]  # fmt: skip

# Sequence models (issue 14).
__all__ += ["MemN2N", "Seq2Seq"]
from .memory_network import MemN2N
from .seq2seq import Seq2Seq
