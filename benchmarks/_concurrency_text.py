"""The messages benchmarks/concurrency.py sends: long-talk prompts and a long conversation.

Every request starts with a tag of its own right after the system prompt, so that no
server finds it in a prompt cache (the system prompt aside); the rest is the same on both
servers and in every round, so each client asks for the same kind of answer every time.
"""

from __future__ import annotations

from collections.abc import Callable

SYSTEM = "You are a helpful assistant."

# Each makes SmolLM2 talk past 150 tokens under greedy sampling (checked: the benchmark
# prints how many tokens every request produced).
TOPICS = [
    "Write a long story about a lighthouse keeper and a storm that lasts three days.",
    "Explain in detail how a bicycle works, part by part, for a curious child.",
    "Describe a busy market in a small town on a Saturday morning, stall by stall.",
    "Write a long letter from a sailor to his family about his first voyage.",
    "Explain step by step how bread is made, from the field of wheat to the loaf.",
    "Write a long story about a fox who wants to learn to fly a kite.",
    "Describe the four seasons in a mountain village, one by one, in detail.",
    "Explain how a steam train works and what each member of its crew does.",
]


def prompt(tag: str, topic: int) -> list[dict[str, str]]:
    text = f"Request {tag}. {TOPICS[topic % len(TOPICS)]}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


# Two conversations, on unrelated subjects (the other conversation of a round must not
# look like the first to a server's prefix cache): the user asks, the assistant answers.
COAST_QUESTIONS = [
    "What should I know before visiting the coast in autumn?",
    "How do the tides work there, and when is it safe to walk on the beach?",
    "Which villages along the way are worth a stop?",
    "What can I eat there that I will not find at home?",
    "How do I get around without a car?",
    "What is the weather like, and what should I pack?",
    "Tell me about the lighthouses on that stretch of coast.",
    "Where can I watch birds, and which ones will I see?",
]
COAST_ANSWERS = [
    "Autumn on the coast is quiet: the summer visitors have gone, many cafes shorten their "
    "hours, and the light is low and golden in the afternoons. Storms come in from the west "
    "without much warning, so check the forecast each morning and keep a day free in case "
    "a ferry does not sail. Book rooms ahead on weekends, when people from the city come "
    "for the walks, and carry some cash, because small shops in the villages often take "
    "nothing else.",
    "The tide rises and falls twice a day, about fifty minutes later each day, and the "
    "difference between high and low water can be several metres here. Tide tables are "
    "posted at every harbour and printed in the local paper. Start a beach walk on a "
    "falling tide, never cross to an island or round a headland without knowing when the "
    "water returns, and remember that the sand in the bays can be soft where streams run "
    "into the sea.",
    "The fishing village at the mouth of the river has a harbour full of small boats and a "
    "market on Thursdays. Further north there is a town of grey stone houses built around "
    "a church with a tall spire, and a village on the cliffs where painters have worked "
    "for a hundred years; its small gallery is open at weekends. Each is a short bus ride "
    "from the next, and each has a path down to the water.",
    "Try the smoked fish, sold from sheds behind the harbours, the mussels cooked in cider, "
    "and the thick soup of potatoes, leeks and cream that every inn makes a little "
    "differently. Bakers sell a dark bread with seeds that keeps for days, good for a "
    "walk. In autumn there are apples everywhere, and farms sell juice and cider at the "
    "gate, often with an honesty box rather than a person to pay.",
    "A coastal bus runs along the main road several times a day, and it will stop anywhere "
    "safe if you wave. Bicycles can be hired in the larger towns; the old railway line "
    "inland has been turned into a flat path that joins many of the villages. The long "
    "distance footpath follows the cliffs the whole way, so you can walk from one village "
    "to the next and take the bus back in the evening.",
    "Expect everything in a single day: sun in the morning, a squall at noon, a rainbow "
    "over the sea by evening. Temperatures are mild, rarely cold, but the wind makes it "
    "feel cooler on the cliffs. Pack layers, a waterproof jacket with a hood, boots that "
    "can take mud, a warm hat, and a small bag for the walks; leave the umbrella at home, "
    "the wind will only turn it inside out.",
    "Three lighthouses stand on that stretch. The oldest, a short white tower on the "
    "point, was built of granite blocks two centuries ago and is now a small museum where "
    "you can climb to the lamp room. The second is on a rock a mile out, reached only by "
    "boat in calm weather. The third, striped red and white, still shines every night and "
    "its beam can be seen from the whole bay.",
    "The estuary is the best place: at low tide thousands of waders feed on the mud, "
    "curlews, oystercatchers, redshanks and godwits, and in autumn geese arrive from the "
    "north in long noisy lines. There is a hide beside the path with notes on what has "
    "been seen that week. On the cliffs you may see gannets diving, cormorants drying "
    "their wings on the rocks, and, if you are lucky, a seal watching you from the water.",
]
GARDEN_QUESTIONS = [
    "I want to grow vegetables in my back garden for the first time. Where do I start?",
    "How should I prepare the soil?",
    "Which vegetables are easiest for a beginner?",
    "When should I sow, and when should I plant out seedlings?",
    "How often should I water, and how much?",
    "What can I do about slugs and snails without poisons?",
    "Is it worth making my own compost?",
    "How do I keep the garden going through the winter?",
]
GARDEN_ANSWERS = [
    "Begin small: a single bed of about three metres by one is enough for a first year and "
    "easy to keep weeded. Choose the sunniest spot you have, away from the shade of trees "
    "and hedges, and close to a tap, since you will carry water more often than you "
    "expect. Make a rough plan on paper of what goes where, and keep a notebook of what "
    "you sow and when; next spring it will be the most useful book you own.",
    "Clear the grass and the weeds first, roots and all, then loosen the ground with a fork "
    "to the depth of its tines without turning it over completely. Spread a thick layer of "
    "well rotted manure or compost on top and let the worms pull it down over a few weeks. "
    "Heavy clay improves every year you do this, and sandy soil holds water better once it "
    "has more organic matter in it. Never work the soil when it is wet and sticky.",
    "Radishes, lettuce, spinach and peas give quick results and forgive mistakes. Runner "
    "beans and courgettes crop heavily from a few plants, and potatoes are almost "
    "foolproof if you earth them up as they grow. Herbs such as parsley, chives and mint "
    "are worth a corner too, though mint is best kept in a pot because it spreads "
    "everywhere. Leave the fussier crops, like cauliflower and celery, for a later year.",
    "Most seeds go outside from the middle of spring, when the soil feels warm to your hand "
    "and the weeds begin to grow; sowing too early into cold ground only rots the seed. "
    "Tender plants such as tomatoes, squash and beans are started on a windowsill and "
    "planted out only after the last frost, once they have been hardened off by standing "
    "outside during the day for a week. Sow small batches every few weeks for a steady "
    "supply instead of a glut.",
    "Water deeply once or twice a week rather than a little every day, so that the roots "
    "grow down to where the soil stays moist. The morning is the best time, when less is "
    "lost to the sun and the leaves dry before night. Seedlings and newly planted crops "
    "need more care, and so do plants in pots, which can dry out in a single warm day. A "
    "mulch of straw or grass clippings keeps the moisture in and the weeds down.",
    "Go out with a torch on damp evenings and pick them off; it is tedious, but after a few "
    "nights there are far fewer. Sink a shallow dish of beer into the ground as a trap, "
    "protect young plants with collars cut from plastic bottles, and encourage the birds, "
    "frogs and hedgehogs that eat them by leaving a wild corner with a little water. "
    "Raising seedlings to a decent size before planting them out also helps, as slugs "
    "prefer the tender ones.",
    "Yes: compost turns kitchen peelings, grass cuttings, fallen leaves and spent plants "
    "into the best thing you can give your soil, for nothing. Mix green, wet material with "
    "brown, dry material such as cardboard and straw, keep the heap moist like a wrung-out "
    "sponge, and turn it now and then to let air in. In a year you will have dark, sweet "
    "smelling compost. Leave out meat, cooked food and diseased plants, which attract rats "
    "or spread problems.",
    "Sow broad beans and plant garlic in late autumn for an early start next year, and keep "
    "leeks, kale and parsnips in the ground to harvest as you need them; frost even makes "
    "parsnips sweeter. Cover the empty beds with compost or a green manure such as winter "
    "rye so that the rain does not wash the soil away. Clean and oil your tools, order "
    "seeds, and read your notebook from the year before while you wait for spring.",
]
# What the user says after the history (turn 1), then in turns 2 and 3.
OPENINGS = [
    "Thank you. Now give me a plan for a three-day visit, day by day.",
    "Thanks. Now give me a plan for my first month, week by week.",
]
TURNS = [
    {"role": "user", "content": "Which of those days would you shorten if it rains?"},
    {"role": "user", "content": "Give the whole plan a short title."},
]
SUBJECTS = [(COAST_QUESTIONS, COAST_ANSWERS), (GARDEN_QUESTIONS, GARDEN_ANSWERS)]


def conversation(
    tag: str, tokens: int, count: Callable[[str], int], subject: int = 0
) -> list[dict[str, str]]:
    """A history of about `tokens` prompt tokens (the messages' text, counted with `count`,
    plus a few tokens a message for the chat template), ending with a user message.

    `subject` 0 or 1: two conversations with nothing in common but the system prompt (the
    tag goes at the end of the first question, so that it does not start the same way as
    another conversation's or a prompt()'s)."""
    questions, answers = SUBJECTS[subject]
    messages = [{"role": "system", "content": SYSTEM}]
    used = count(SYSTEM) + 5
    i = 0
    while used < tokens:
        question = questions[i % len(questions)]
        if i == 0:
            question = f"{question} (conversation {tag})"
        elif i >= len(questions):
            question = f"Again, in other words: {question[0].lower()}{question[1:]}"
        answer = answers[i % len(answers)]
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        used += count(question) + count(answer) + 10
        i += 1
    messages.append({"role": "user", "content": OPENINGS[subject]})
    return messages
