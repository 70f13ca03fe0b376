"""Scene families: random composites of primitives (`objects`), toy cars (`cars`), composites whose parts move
over time (`dynamic`, D-NeRF layout), patterned and image-textured composites (`textured`), thin and wide
structures (`thin`: aircraft with poles, tables with large flat tops) and a `mixed` family of all of them with
specular highlights, varied sizes and, for some scenes, surroundings (a sky)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from latent_atlas.data.synth.sdf import Primitive

FAMILIES = ("objects", "cars", "dynamic", "textured", "thin", "mixed")


@dataclass
class SceneStyle:
    """What a scene of a family has beyond its solids."""

    radius: float = 0.9
    """Radius of the sphere the solid is scaled into (the scene's size in the box)."""
    sky: bool = False
    """Opaque images over surroundings (a sky)."""


@dataclass
class Motion:
    """How one primitive moves over time t in [0, 1]: its centre shifts by t * translation and it turns by
    t * spin radians about z (t = 0 is the rest pose: D-NeRF's canonical frame)."""

    translation: tuple[float, float, float]
    spin: float


def random_motion(g: torch.Generator) -> Motion:
    """A translation of 0.15-0.35 in a random direction and a spin of up to half a turn."""
    direction = torch.randn(3, generator=g)
    direction = direction / direction.norm().clamp_min(1e-6) * _uniform(g, 0.15, 0.35)
    return Motion(tuple(direction.tolist()), _uniform(g, -math.pi / 2, math.pi / 2))


def posed(prims: list[Primitive], motions: list[Motion], t: float) -> list[Primitive]:
    """The primitives at time t in [0, 1]."""
    return [
        dataclasses.replace(p, center=tuple(c + t * d for c, d in zip(p.center, m.translation, strict=True)), rotation_z=p.rotation_z + t * m.spin)
        for p, m in zip(prims, motions, strict=True)
    ]


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=g).item()


def _color(g: torch.Generator) -> tuple[float, float, float]:
    """A saturated colour: random hue, high saturation and value."""
    h = _uniform(g, 0.0, 1.0)
    s, v = _uniform(g, 0.5, 0.9), _uniform(g, 0.6, 0.95)
    k = [(n + h * 6.0) % 6.0 for n in (5.0, 3.0, 1.0)]
    return tuple(v - v * s * max(0.0, min(kk, 4.0 - kk, 1.0)) for kk in k)


def random_object(g: torch.Generator) -> list[Primitive]:
    """2 to 4 primitives of random kinds, sizes, colours and placements."""
    prims = []
    for _ in range(int(torch.randint(2, 5, (), generator=g))):
        kind = ("sphere", "box", "cylinder", "torus")[int(torch.randint(0, 4, (), generator=g))]
        center = tuple(_uniform(g, -0.35, 0.35) for _ in range(3))
        if kind == "sphere":
            size = (_uniform(g, 0.2, 0.4),)
        elif kind == "box":
            size = tuple(_uniform(g, 0.12, 0.35) for _ in range(3))
        elif kind == "cylinder":
            size = (_uniform(g, 0.1, 0.25), _uniform(g, 0.15, 0.4))
        else:
            size = (_uniform(g, 0.2, 0.35), _uniform(g, 0.05, 0.12))
        prims.append(
            Primitive(
                kind,
                center,
                size,
                _color(g),
                axis=int(torch.randint(0, 3, (), generator=g)),
                rotation_z=_uniform(g, 0, math.pi),
                rounding=0.03 if kind == "box" else 0.0,
            )
        )
    return prims


def random_car(g: torch.Generator) -> list[Primitive]:
    """A toy car facing +x, wheels towards -z: body, cabin, 4 wheels with hubs, optional spoiler."""
    length, width, height = _uniform(g, 0.55, 0.8), _uniform(g, 0.25, 0.35), _uniform(g, 0.1, 0.16)
    wheel_r = _uniform(g, 0.1, 0.15)
    body_z = wheel_r * 0.9 + height - 0.3
    body_color, cabin_color = _color(g), _color(g)
    wheel_color, hub_color = (0.08, 0.08, 0.09), (0.8, 0.8, 0.82)
    prims = [Primitive("box", (0.0, 0.0, body_z), (length, width, height), body_color, rounding=0.05)]
    cabin_len = length * _uniform(g, 0.4, 0.6)
    cabin_x = _uniform(g, -0.2, 0.05) * length
    prims.append(Primitive("box", (cabin_x, 0.0, body_z + height + 0.08), (cabin_len, width * 0.85, _uniform(g, 0.08, 0.13)), cabin_color, rounding=0.04))
    wheel_x = length * _uniform(g, 0.55, 0.75)
    for sx in (-1.0, 1.0):
        for sy in (-1.0, 1.0):
            center = (sx * wheel_x, sy * width, body_z - height)
            prims.append(Primitive("cylinder", center, (wheel_r, 0.06), wheel_color, axis=1))
            prims.append(Primitive("cylinder", (center[0], sy * (width + 0.04), center[2]), (wheel_r * 0.5, 0.025), hub_color, axis=1))
    if torch.rand((), generator=g).item() < 0.5:
        prims.append(Primitive("box", (-length + 0.04, 0.0, body_z + height + 0.1), (0.05, width * 0.95, 0.02), body_color, rounding=0.01))
    return prims


def _choice(g: torch.Generator, options: tuple):
    return options[int(torch.randint(0, len(options), (), generator=g))]


def patterned(prims: list[Primitive], g: torch.Generator) -> list[Primitive]:
    """The primitives with random surface patterns or mosaic textures (4-16 cells per unit)."""
    return [
        dataclasses.replace(
            p,
            pattern=_choice(g, ("checker", "stripes", "dots", "mosaic")),
            color2=_color(g),
            pattern_scale=_uniform(g, 4.0, 16.0),
            texture_seed=int(torch.randint(0, 2**31 - 1, (), generator=g)),
        )
        for p in prims
    ]


def turned(prims: list[Primitive], angle: float) -> list[Primitive]:
    """The whole solid turned by `angle` about the world z axis."""
    c, s = math.cos(angle), math.sin(angle)
    return [
        dataclasses.replace(p, center=(c * p.center[0] - s * p.center[1], s * p.center[0] + c * p.center[1], p.center[2]), rotation_z=p.rotation_z + angle)
        for p in prims
    ]


def random_aircraft(g: torch.Generator) -> list[Primitive]:
    """A thin, wide structure: fuselage, a wide wing 2-4 hundredths thick, tailplane and fin, and 1-3 thin poles."""
    length, radius = _uniform(g, 0.5, 0.7), _uniform(g, 0.05, 0.09)
    body, wing_colour = _color(g), _color(g)
    prims = [
        Primitive("cylinder", (0.0, 0.0, 0.0), (radius, length), body, axis=0),
        Primitive("box", (_uniform(g, -0.1, 0.1), 0.0, 0.0), (_uniform(g, 0.1, 0.18), _uniform(g, 0.6, 0.9), _uniform(g, 0.01, 0.02)), wing_colour),
        Primitive("box", (-length + 0.06, 0.0, 0.02), (0.06, _uniform(g, 0.18, 0.3), 0.01), wing_colour),
        Primitive("box", (-length + 0.06, 0.0, 0.12), (0.07, 0.01, _uniform(g, 0.08, 0.14)), body),
    ]
    for _ in range(int(torch.randint(1, 4, (), generator=g))):
        x, y = _uniform(g, -0.4, 0.4), _uniform(g, -0.5, 0.5)
        prims.append(Primitive("cylinder", (x, y, _uniform(g, -0.2, 0.2)), (_uniform(g, 0.008, 0.02), _uniform(g, 0.25, 0.5)), _color(g)))
    return turned(prims, _uniform(g, 0.0, 2 * math.pi))


def random_table(g: torch.Generator) -> list[Primitive]:
    """A large flat top filling most of the box on four thin legs, with one or two objects on it."""
    half_x, half_y, height = _uniform(g, 0.6, 0.85), _uniform(g, 0.4, 0.7), _uniform(g, 0.1, 0.3)
    top = _color(g)
    prims = [Primitive("box", (0.0, 0.0, height), (half_x, half_y, _uniform(g, 0.015, 0.03)), top, rounding=0.01)]
    leg = _uniform(g, 0.015, 0.03)
    for sx in (-1.0, 1.0):
        for sy in (-1.0, 1.0):
            prims.append(Primitive("cylinder", (sx * (half_x - 0.05), sy * (half_y - 0.05), (height - 0.6) / 2), (leg, (height + 0.6) / 2), top))
    for _ in range(int(torch.randint(1, 3, (), generator=g))):
        r = _uniform(g, 0.08, 0.16)
        prims.append(Primitive("sphere", (_uniform(g, -0.4, 0.4), _uniform(g, -0.25, 0.25), height + r), (r,), _color(g)))
    return turned(prims, _uniform(g, 0.0, 2 * math.pi))


def scene_style(family: str, g: torch.Generator) -> SceneStyle:
    """The scene's size and surroundings: mixed scenes vary (radius 0.55-0.95, a sky in 3 of 10); others are 0.9, none."""
    if family != "mixed":
        return SceneStyle()
    return SceneStyle(radius=_uniform(g, 0.55, 0.95), sky=bool(torch.rand((), generator=g) < 0.3))


def make_scene(family: str, g: torch.Generator) -> list[Primitive]:
    """One random scene of `family` (a dynamic scene's rest pose: draw its motions with random_motion next)."""
    if family in ("objects", "dynamic"):
        return random_object(g)
    if family == "cars":
        return random_car(g)
    if family == "textured":
        return patterned(random_object(g), g)
    if family == "thin":
        return random_aircraft(g) if torch.rand((), generator=g) < 0.5 else random_table(g)
    if family == "mixed":
        prims = make_scene(_choice(g, ("objects", "cars", "textured", "thin")), g)
        if torch.rand((), generator=g) < 0.5:
            shine = _uniform(g, 0.2, 0.8)
            prims = [dataclasses.replace(p, specular=shine) for p in prims]
        return prims
    raise ValueError(f"unknown family '{family}' (choose from {', '.join(FAMILIES)})")
