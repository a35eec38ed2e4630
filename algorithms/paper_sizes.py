"""Appendix C's network sizes as plain arithmetic, with no torch: how many conv layers and channels an image size
gets, and the GRU and MLP width a task gets. `nets` builds the networks from them; `lompo_config` resolves a
config's sizes with them, so that planning (a shared world model's key) needs no torch."""

from __future__ import annotations

from collections.abc import Sequence

# The official code picks its conv nets by image size (`_build_model`: `im_size == 64` takes the 4-layer
# `ConvEncoder` / `ConvDecoder`, any other the 5-layer `ConvEncoderLarge` / `ConvDecoderLarge` built for 128 px),
# so Appendix C's five layers for D'Claw, Pen and Door mean 128 px images. Both end in a 2 x 2 map.
CONV_LAYERS = {64: 4, 128: 5}


def conv_layers_for(image_size: int) -> int:
    """How many conv layers the official rule gives images of `image_size` px (64: 4, 128: 5)."""
    if image_size not in CONV_LAYERS:
        sizes = " or ".join(str(size) for size in CONV_LAYERS)
        raise ValueError(f"the conv networks take {sizes} px images, not {image_size}")
    return CONV_LAYERS[image_size]


def image_size_for(conv_layers: int) -> int:
    """The image size a conv net of `conv_layers` layers is built for (the inverse of `conv_layers_for`)."""
    sizes = {layers: size for size, layers in CONV_LAYERS.items()}
    if conv_layers not in sizes:
        raise ValueError(f"conv networks have {' or '.join(map(str, sizes))} layers, not {conv_layers}")
    return sizes[conv_layers]


def paper_conv_channels(image_size: int) -> tuple[int, ...]:
    """Appendix C's encoder channels (official `cnn_depth` 32: depth x [1, 2, 4, 8], then 8 again for 128 px)."""
    return (32, 64, 128, 256, 256)[: conv_layers_for(image_size)]


def scaled_conv_channels(conv_channels: Sequence[int] | None, conv_scale: float, image_size: int) -> tuple[int, ...]:
    """An encoder's channels: as given, or Appendix C's for the image size times `conv_scale` (smaller profiles)."""
    return tuple(conv_channels or (max(1, round(c * conv_scale)) for c in paper_conv_channels(image_size)))


def paper_width(task: str) -> int:
    """Appendix C: GRU and forward/inference MLP width, 512 for Adroit Pen and 256 elsewhere."""
    return 512 if task == "adroit_pen" else 256


def decoder_channels(conv_channels: tuple[int, ...]) -> tuple[int, ...]:
    """Appendix C's decoders mirror the encoders: [32, 64, 128, 256] -> [128, 64, 32, 3] and
    [32, 64, 128, 256, 256] -> [128, 64, 32, 32, 3]."""
    return (*reversed(conv_channels[:3]), *[conv_channels[0]] * (len(conv_channels) - 4), 3)
