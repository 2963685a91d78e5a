"""Word banks for generated answers and transcripts: deliberately multilingual (accents, emoji, CJK),
with commas inside single values and characters that need escaping, because real participants type
all of these."""

from __future__ import annotations

WRITTEN_ANSWERS = (
    "The checkout felt quick, but I wasn't sure the coupon had been applied.",
    "Très clair, j'ai trouvé le bouton « Payer » tout de suite.",
    "Me gustó el diseño, aunque la página tardó en cargar.",
    "とても使いやすいです。でも文字が少し小さいです。",
    "Love it 😍 but the font is tiny 🔍",
    "Ich habe die Größentabelle nicht gefunden.",
    "한국어 지원이 있으면 좋겠어요.",
    'Not sure what "Klarna" means here… is that a bank?',
    "First impression: clean.\nSecond: where is the search box?",
    "Prices in € would help; I'm in Lisboa.",
    "It's fine. <3 the colours & the dark mode.",
    "",
)

SPOKEN_LINES = (
    "Okay, so I'm on the home page now.",
    "I'm looking for the running shoes… there's a menu at the top.",
    "Hmm, I expected the filter to be on the left.",
    "That was easier than I thought, honestly.",
    "I'd probably pay with PayPal & not a card.",
    "Wait, is this the total including shipping?",
    "C'est un peu confus, la page de paiement.",
    "この色はとても良いと思います。",
    "I really like this 👍",
    "Let me scroll down a bit.",
    "The button says <Continue> but nothing happens.",
    "¿Dónde está el carrito? Ah, there it is.",
    "Honestly I would leave the site at this point.",
    "So far so good, moving on to the next task.",
    "I can't tell whether the coupon worked — it still says €49.99.",
)

MODERATOR_LINES = (
    "Thanks for joining today. Can you see my screen?",
    "Tell me what you'd expect to happen when you click that.",
    "What would you call this feature in your own words?",
    "How does that compare with the app you use today?",
    "Great, let's move on to the sign-up flow.",
)

PERSON_NAMES = (
    ("Ana Souza", "ana.souza@example.com"),
    ("Jürgen Müller", "juergen.mueller@example.com"),
    ("Priya Raman", "priya.raman@example.com"),
    ("陈静", "chen.jing@example.com"),
    ("UT Employee", "support@usertesting.com"),
)

LEGACY_TITLES = (
    "Homepage first impressions (classic)",
    "App store listing test",
    "Pricing page — market insight",
    "Prototype navigation (web)",
)
