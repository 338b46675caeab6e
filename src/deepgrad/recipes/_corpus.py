"""A small built-in English corpus for the character language model (written for deepgrad)."""

CORPUS = """\
The river runs past the old mill and under the stone bridge, and in the spring it
carries the melted snow down from the hills. The miller's daughter walks along the
bank every morning. She counts the ducks, she watches the herons, and she listens to
the water turning the wheel. The wheel turns, and the stones grind, and the flour
falls into the sacks, white and soft and warm.

In the summer the river is slow and green. Children swim in the deep pool below the
weir, and their voices carry across the meadow to the village. The baker buys the
flour from the mill and bakes the bread before the sun rises. The smell of the bread
fills the street, and the people wake and come to buy it, one loaf and then another.

In the autumn the leaves fall into the water and float away like small brown boats.
The rain comes, and the river rises, and the wheel turns faster. The miller works
late into the night, and the lamp in the window burns until the last sack is full.
His daughter brings him tea and sits beside him, and they talk about the winter, and
about the journey she will make in the spring to the city by the sea.

In the winter the river freezes at the edges, and the wheel is still. Snow covers the
roof of the mill and the path along the bank. The miller mends the sacks and sharpens
the tools, and his daughter reads by the fire. She reads about ships and harbours and
distant islands, about the stars that sailors use to find their way, and about the
cities where the rivers end. When the snow melts, the river will run again, and the
wheel will turn, and she will walk along the bank one last morning and then follow
the water down to the sea.
"""
