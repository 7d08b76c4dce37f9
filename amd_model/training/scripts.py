"""What the synthetic callees say: templates and fillers for human answers and greetings.

Templates are split by index into a training part and a held-out part (every fourth
template is held out), so a held-out corpus also hears sentences training never saw.
Fillers (names, companies, numbers) are shared; they only change the words.
"""

from __future__ import annotations

import random

FIRST = ["John", "Mary", "David", "Sarah", "Michael", "Linda", "James", "Patricia", "Robert",
         "Jennifer", "Carlos", "Priya", "Wei", "Fatima", "Olga", "Ahmed", "Emma", "Liam",
         "Noah", "Olivia", "Sofia", "Lucas", "Mia", "Ethan", "Grace", "Daniel", "Chloe",
         "Hannah", "Omar", "Yuki", "Kevin", "Rachel", "Tom", "Anna", "Pete", "Rosa", "Sam",
         "Nina", "Frank", "Helen", "Mark", "Julia", "Brian", "Megan", "Dave", "Karen"]
LAST = ["Smith", "Johnson", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Lee",
        "Walker", "Hall", "Young", "King", "Wright", "Lopez", "Hill", "Scott", "Green",
        "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner",
        "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Patel",
        "Nguyen", "Kim", "Chen", "Schmidt", "Rossi", "O'Brien", "Murphy"]
COMPANY = ["Acme Plumbing", "Bright Smile Dental", "Northside Auto Repair", "Summit Realty",
           "Green Valley Insurance", "Blue Harbor Bank", "City Pet Clinic", "Main Street Bakery",
           "Pioneer Law Group", "Sunrise Family Medicine", "Metro Cleaning Services",
           "Riverside Physical Therapy", "Oak Tree Accounting", "Lakeside Veterinary",
           "Peak Fitness", "Golden Gate Movers", "Evergreen Landscaping", "Harbor Freight Lines",
           "Silver Line Taxi", "Maple Street Pharmacy", "Coastal Roofing", "Union Electric",
           "First Choice Heating and Cooling", "Westside Orthodontics", "Lincoln High School"]
CARRIER = ["Verizon Wireless", "the Vodafone messaging service", "the AT and T voicemail system",
           "T-Mobile", "the mailbox", "the voice messaging system", "Sprint", "O2"]
TIMES = ["nine to five", "eight A M to six P M", "nine in the morning until five",
         "Monday through Friday, nine to five", "ten to four"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend", "next week"]


def digits(rng: random.Random, n: int) -> str:
    """``n`` random digits spoken one by one."""
    return " ".join(str(rng.randint(0, 9)) for _ in range(n))


def phone(rng: random.Random) -> str:
    """A spoken phone number."""
    return f"{digits(rng, 3)}, {digits(rng, 3)}, {digits(rng, 4)}"


HUMAN_SHORT = [
    "Hello?", "Hello.", "Hi.", "Yeah?", "Yes?", "Hello, who's this?", "Hi, who is this?",
    "This is {first}.", "{first} speaking.", "Hello, {first} here.", "Yeah, hello?",
    "Hi there.", "Good morning.", "Good afternoon.", "Hey.", "Hello, yes?", "Speaking.",
    "Who is calling?", "Hello? Anyone there?", "Yep?", "Uh, hello?", "Hi, it's {first}.",
    "{last} residence.", "Hello, this is {first} {last}.", "Yes, hello.", "Hiya.",
    "Hello, can I help you?", "What?", "Hello hello?", "Morning.", "Evening.", "Go ahead.",
    "Hi, yes?", "Who's this?", "Hello, {first}?", "Yeah, this is {first}.", "Hallo?",
    "Sorry, hello?", "Hey, what's up?", "Hello, {last}.",
    "One moment please.",
    "Yes, this is {first}.",
    "Hello, {company}.",
    "Uh-huh?",
    "Hello, who am I speaking with?",
    "Hi, can I help you?",
    "{first} {last}.",
    "Yes, speaking.",
    "Hello? Hi.",
    "Hi, who's calling?",
    "Good evening.",
    "Hello, {first} {last} speaking.",
    "Mm, hello?",
    "Yeah, go ahead.",
    "Hey there.",
    "Ja, hello?",
]
HUMAN_SECOND = [
    "Hello?", "Is anyone there?", "Hello? Can you hear me?", "Hello, anybody?", "Hello??",
    "I can't hear you.", "Who is this?", "Hello, are you there?", "Helloo?", "Hi? Hello?",
    "Yes? Hello?", "Hey, anyone?",
    "Hello? Hello?",
    "Can you hear me?",
    "Anyone there?",
    "Who's calling?",
    "Hello, is somebody there?",
    "Hellooo?",
    "I think the line is dead.",
    "Hello, yes?",
]
RECEPTIONIST = [
    "Good morning, {company}, this is {first}, how can I help you?",
    "{company}, {first} speaking.",
    "Thank you for calling {company}, this is {first}.",
    "{company}, how may I direct your call?",
    "Hi, {company}, {first} here, what can I do for you?",
    "Good afternoon, {company}. How can I help?",
    "{company}, front desk.",
    "Hello, {company}, this is {first} {last}.",
    "Thanks for calling {company}, can you hold please?",
    "{company}, {first}, how may I help you today?",
    "Hi, you're through to {company}, {first} speaking.",
    "Morning, {company}, what can I do for you?",
    "{company}, good afternoon, {first} speaking, how can I help?",
    "Thank you for calling {company}, my name is {first}, how can I help you today?",
    "{company} reception, {first} here.",
    "Good morning, you're through to {company}.",
    "{company}, this is {first}, are you calling about an appointment?",
    "Hello, {company} customer service, {first} speaking.",
    "{company}, please hold.",
    "Good evening, {company}, how can I direct your call?",
]
LONG_TALK = [
    "Hello? Yeah, hi, sorry, I was just in the middle of cooking, who is this?",
    "Hi, this is {first}, I'm actually driving right now, can I call you back later?",
    "Hello, yes, {first} here, I've been waiting for your call about the appointment.",
    "Oh hi, I thought you were my sister, she said she'd call around now.",
    "Yes hello, if this is about the car warranty I'm not interested, thank you.",
    "Hello? Hang on, let me turn the TV down, okay, who's calling please?",
    "Hi, {first} speaking, sorry it's really noisy here, can you speak up?",
    "Hello, this is the {last} house, {first} isn't home right now, can I take a message?",
    "Yeah, hello, I got a missed call from this number earlier, what is this about?",
    "Hi, is this about the delivery? I've been home all day waiting for it.",
    "Hello, {first} {last}, I'm just stepping into a meeting, make it quick please.",
    "Hi there, sorry, the line is bad, I'm on the train, who is this?",
    "Hello? Oh, hi, listen, I can't really talk right now, I'm at the doctor's.",
    "Yes, this is {first}, I just got home, what did you want?",
    "Hello, {first} {last} speaking, if you're selling something I'm not interested.",
    "Hi, yeah, sorry it took me a while to pick up, I was out in the garden.",
    "Hello? Is this the pharmacy? I was expecting a call back about my prescription.",
    "Hey, I saw you called twice, is everything okay?",
    "Hi, {first} here, I'm just about to board a flight so I only have a minute.",
    "Hello, yes, I'm calling back, someone left me a message to call this number.",
]
MACHINE_PERSONAL = [
    "Hi, you've reached {first}. I can't come to the phone right now. "
    "Please leave a message after the beep.",
    "Hello, this is {first} {last}. I'm not available at the moment. "
    "Leave your name and number and I'll call you back.",
    "Hey, it's {first}. Leave a message.",
    "You have reached {first} and {first2}. We're not home right now, "
    "so please leave a message and we'll get back to you.",
    "Hi, this is {first}. Sorry I missed your call. Leave me a message and I'll call you "
    "back as soon as I can. Thanks!",
    "Hello, you've reached the {last} residence. Please leave a message after the tone.",
    "This is {first}. I'm away until {day}. Please leave a message or call {phone}.",
    "Hi! You've reached {first}'s phone. Do your thing at the beep.",
    "Hello, you have reached {phone}. Nobody is available to take your call. "
    "Please leave a message.",
    "Hey, this is {first} {last}. I'm probably out surfing. Leave a message!",
    "Hi, {first} here. I'm either on the other line or away from my desk. "
    "Please leave your name, number and a brief message.",
    "You've reached {first}. If this is urgent, text me. Otherwise leave a message.",
    "Hello. This is {first}. I am unable to answer your call right now. "
    "Please leave a detailed message after the tone and I will return your call.",
    "Hi, thanks for calling. {first} and the kids can't pick up right now. "
    "Leave us a message!",
    "Greetings, you've reached {first} {last}. Please leave a message at the tone.",
    "Hi, it's {first}. I'm on vacation until {day}. Leave a message and I'll get back to you "
    "when I'm back.",
    "Hi, you've reached {first}. Leave a message after the tone and I'll get back to you.",
    "This is {first} {last}. Please leave a message.",
    "Hey, you've got {first}. Can't talk right now. Leave it at the beep.",
    "Hello, you've reached {phone}. Please leave a message after the tone.",
    "Hi, we can't come to the phone right now. Please leave your name and number.",
    "Hi, this is {first}, I'm not around right now, so leave me a message.",
    "{first} here. Leave a message and I'll call you back.",
    "Hello, you have reached the {last} family. Please leave a message.",
]
MACHINE_BUSINESS = [
    "Thank you for calling {company}. Our office is currently closed. Our hours are "
    "{times}. Please leave a message and we will return your call.",
    "You have reached {company}. All of our representatives are busy. "
    "Please leave your name and number after the tone.",
    "Thank you for calling {company}. If you know your party's extension, you may dial it "
    "at any time. For sales, press one. For service, press two.",
    "Hello, you've reached {company}. We're closed for the holiday and will reopen on {day}.",
    "Thanks for calling {company}, this is {first}. I'm away from my desk. Please leave a "
    "message with your number and I'll return your call.",
    "Welcome to {company}. Your call is important to us. Please stay on the line.",
    "You've reached the voicemail of {first} {last} at {company}. Please leave a message.",
    "{company}. Our office hours are {times}. For emergencies, please call {phone}.",
    "Thank you for calling {company}. Please leave a detailed message including your name "
    "and phone number and someone will get back to you shortly.",
    "Hi, you've reached {first} at {company}. I'm in meetings all day {day}. "
    "Leave a message or press zero for the operator.",
    "Thank you for calling {company}. Please listen carefully as our menu options have changed.",
    "Hello and welcome to {company}. For English, press one. Para espanol, oprima dos.",
    "You have reached {company} after hours. Please call back {times}.",
    "Thank you for calling {company}. All lines are busy. Your call will be answered in "
    "the order it was received.",
    "You've reached {first} {last} with {company}. I'm out of the office until {day}.",
    "Welcome to {company}. To speak with an operator, press zero.",
    "This is {company}. We are unable to take your call. Please leave a message.",
    "Hi, this is {first} from {company}. Please leave your name and number and I will "
    "return your call.",
]
MACHINE_CARRIER = [
    "The person you are calling, {phone}, is not available. Please leave a message after "
    "the tone. When you have finished recording, you may hang up.",
    "The number you have dialed, {phone}, is not available. At the tone, please record "
    "your message.",
    "Welcome to {carrier}. The person you are trying to reach is not available. "
    "Please leave a message after the tone.",
    "The subscriber you have called is not available. Please try again later.",
    "Your call has been forwarded to an automatic voice message system. {phone} is not "
    "available. At the tone, please record your message.",
    "The mailbox of {phone} is full and cannot accept any messages at this time. Goodbye.",
    "The person at extension {ext} is unavailable. Please leave your message after the "
    "tone. When done, hang up or press the pound key.",
    "I'm sorry, the party you are trying to reach does not have a voice mailbox set up. "
    "Goodbye.",
    "You have reached the voice mail box of {phone}. Please leave a message after the "
    "tone.",
    "The number you have called is on the phone. Please leave your message after the tone.",
    "Sorry, {first} {last} is not available. Record your message at the tone.",
    "The cellular customer you have called is not available or has traveled outside the "
    "coverage area. Please try your call again later.",
    "Please leave your message for {phone}.",
    "The person you have called is unavailable. Please leave a message.",
    "The number you have reached is not in service. Please check the number and try again.",
    "The Google subscriber you have called is not available. Please leave a message "
    "after the tone.",
    "The wireless customer you are calling is not available. Please try your call again later.",
    "Record your message after the tone. When you are finished, hang up.",
    "At the tone, please record your message. When you have finished recording, you may hang up.",
    "Hello, the person you are trying to reach is not available. Please leave a message.",
]
MACHINE_SHORT = [
    "Leave a message.", "Hi, leave a message.", "It's {first}, leave a message.",
    "{first}. Message please.", "Hello. Take a message.", "Thank you for calling.",
    "Hi, it's {first}. Beep.", "Not here. Leave a message.", "You know what to do.",
    "Talk to me.", "{first} {last}, leave a message.", "Hey, it's {first}, go ahead.",
    "Leave it at the beep.",
    "Hi, it's {first}.",
    "Message, please.",
    "{first}, leave a message.",
    "Go for it.",
    "Please leave a message.",
    "You've reached {first}.",
    "Not available.",
]


def split_templates(templates: list[str], split: str) -> list[str]:
    """Templates for ``split``: "train" drops every fourth, "heldout" keeps only those."""
    if split == "train":
        kept = [t for i, t in enumerate(templates) if i % 4 != 3]
    elif split == "heldout":
        kept = [t for i, t in enumerate(templates) if i % 4 == 3]
    else:
        kept = list(templates)
    return kept or list(templates)


def fill(template: str, rng: random.Random) -> str:
    """Replace ``{first}``, ``{company}``, ``{phone}`` … with random fillers."""
    return template.format(
        first=rng.choice(FIRST), first2=rng.choice(FIRST), last=rng.choice(LAST),
        company=rng.choice(COMPANY), carrier=rng.choice(CARRIER), times=rng.choice(TIMES),
        day=rng.choice(DAYS), phone=phone(rng), ext=digits(rng, rng.randint(3, 4)),
    )


def count_distinct(rng_seed: int = 0, per_template: int = 20) -> int:
    """How many distinct sentences the templates yield (a sanity figure for the docs)."""
    rng = random.Random(rng_seed)
    seen: set[str] = set()
    for group in (HUMAN_SHORT, HUMAN_SECOND, RECEPTIONIST, LONG_TALK, MACHINE_PERSONAL,
                  MACHINE_BUSINESS, MACHINE_CARRIER, MACHINE_SHORT):
        for t in group:
            for _ in range(per_template):
                seen.add(fill(t, rng))
    return len(seen)
