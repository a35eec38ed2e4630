"""Table I as a picture: for every dataset, each algorithm's normalized score, ours (solid) beside the paper's
(light). Drawn with Pillow (a dependency already), so reports need neither matplotlib nor torch."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from leaderboard.paper import ALGORITHM_TITLES, ALGORITHMS, TABLE_I, TASK_TITLES
from leaderboard.results import ScoreCell
from leaderboard.tables import table_one_cells

COLORS = {  # one hue per algorithm: solid for ours, a light tint for the paper's
    "lompo": (31, 119, 180),
    "lmbrl": (255, 127, 14),
    "offline_slac": (44, 160, 44),
    "cql": (214, 39, 40),
    "bc": (148, 103, 189),
}
BAR, GAP, GROUP_GAP, HEIGHT, TOP, BOTTOM, LEFT = 6, 1, 18, 220, 40, 70, 40
SCALE_MAX = 120.0  # normalized score at the top of the axis


def _tint(color: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(c + (255 - c) * 0.6) for c in color)


def table_one_plot(cells: list[ScoreCell], profile: str, dataset_profile: str, path: Path) -> None:
    """Write a PNG bar chart of Table I: one group per (task, kind), two bars per algorithm."""
    ours = table_one_cells(cells, profile, dataset_profile)
    group_width = len(ALGORITHMS) * (2 * BAR + 3 * GAP)
    width = LEFT + len(TABLE_I) * (group_width + GROUP_GAP) + 160
    image = Image.new("RGB", (width, TOP + HEIGHT + BOTTOM), "white")
    draw = ImageDraw.Draw(image)
    base = TOP + HEIGHT

    def y(score: float) -> float:
        return base - HEIGHT * max(min(score, SCALE_MAX), 0.0) / SCALE_MAX

    for tick in (0, 50, 100):
        draw.line([(LEFT, y(tick)), (width - 160, y(tick))], fill=(220, 220, 220))
        draw.text((4, y(tick) - 6), str(tick), fill="black")
    draw.text((LEFT, 8), f"Table I, normalized score: ours (solid, {profile}) vs paper (light)", fill="black")
    x = LEFT + GROUP_GAP // 2
    for task, kind in TABLE_I:
        for algo in ALGORITHMS:
            cell = ours.get((task, kind, algo))
            if cell is not None and cell.mean is not None:
                draw.rectangle([x, y(cell.mean), x + BAR, base], fill=COLORS[algo])
            paper = TABLE_I[(task, kind)][algo]
            draw.rectangle([x + BAR + GAP, y(paper), x + 2 * BAR + GAP, base], fill=_tint(COLORS[algo]))
            x += 2 * BAR + 3 * GAP
        label_x = x - group_width
        draw.text((label_x, base + 6), TASK_TITLES[task].split()[0][:8], fill="black")
        draw.text((label_x, base + 20), kind.replace("medium-", "m-")[:9], fill="black")
        x += GROUP_GAP
    for i, algo in enumerate(ALGORITHMS):  # legend
        top = TOP + 16 * i
        draw.rectangle([width - 150, top, width - 140, top + 10], fill=COLORS[algo])
        draw.text((width - 134, top - 2), ALGORITHM_TITLES[algo], fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
