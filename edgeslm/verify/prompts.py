"""Fixed prompts for verification: the same every run, medical ones among them (no patient data)."""

VERIFY_PROMPTS: tuple[str, ...] = (
    "What are the common symptoms of type 2 diabetes?",
    "A 45-year-old man presents with crushing chest pain radiating to the left arm. The most likely diagnosis is",
    "Metformin is contraindicated in patients with",
    "Explain in simple words what high blood pressure means for a patient.",
    "The first-line treatment for uncomplicated urinary tract infection in women is",
    "The capital of France is",
)
