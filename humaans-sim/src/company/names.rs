//! Word lists the generator draws from. Invented for this simulator; domains use the
//! reserved `.example` top-level domain so no generated address can reach a real mailbox.

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Ada", "Aisha", "Alba", "Amir", "Ana", "Anders", "Aoife", "Arjun", "Astrid", "Bea", "Bruno",
    "Camille", "Carlos", "Chen", "Chiara", "Dara", "David", "Elif", "Elena", "Emeka", "Emil",
    "Farah", "Felix", "Freya", "Gabriel", "Greta", "Hana", "Hugo", "Ines", "Ivan", "Jonas",
    "Julia", "Kai", "Kalani", "Kenji", "Lara", "Leon", "Lina", "Luca", "Maja", "Marek", "Maya",
    "Mei", "Milan", "Nadia", "Nia", "Nils", "Noor", "Olga", "Omar", "Oskar", "Paula", "Pedro",
    "Priya", "Rafael", "Rosa", "Sami", "Sara", "Sofia", "Tariq", "Tomas", "Uma", "Vera", "Wei",
    "Yara", "Yusuf", "Zoe", "Zeynep",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Abara",
    "Andersen",
    "Bakker",
    "Barros",
    "Berg",
    "Bianchi",
    "Brennan",
    "Castro",
    "Costa",
    "Dahl",
    "Delgado",
    "Dubois",
    "Eriksen",
    "Farrell",
    "Fischer",
    "Garcia",
    "Haddad",
    "Hansen",
    "Horvat",
    "Ibrahim",
    "Ivanova",
    "Jansen",
    "Kaur",
    "Keller",
    "Kowalski",
    "Larsen",
    "Lefevre",
    "Lindqvist",
    "Lopez",
    "Mahler",
    "Marino",
    "Martins",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Ortega",
    "Petrov",
    "Quinn",
    "Rahman",
    "Rossi",
    "Sato",
    "Schmidt",
    "Silva",
    "Sorensen",
    "Tanaka",
    "Torres",
    "Usman",
    "Varga",
    "Vogel",
    "Wagner",
    "Walsh",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Zielinski",
];

pub(crate) const COMPANY_NAMES: &[(&str, &str)] = &[
    ("Northwind Analytics", "northwind.example"),
    ("Brightfield Robotics", "brightfield.example"),
    ("Copperleaf Health", "copperleaf.example"),
    ("Lanternfish Studios", "lanternfish.example"),
    ("Meridian Freight", "meridian-freight.example"),
    ("Quillstone Legal", "quillstone.example"),
];

/// Departments with the job titles used in each.
pub(crate) const DEPARTMENTS: &[(&str, &[&str])] = &[
    (
        "Engineering",
        &[
            "Software Engineer",
            "Senior Software Engineer",
            "Staff Engineer",
            "Engineering Manager",
            "QA Engineer",
            "Site Reliability Engineer",
        ],
    ),
    (
        "Product",
        &[
            "Product Manager",
            "Senior Product Manager",
            "Product Designer",
            "UX Researcher",
        ],
    ),
    (
        "Sales",
        &[
            "Account Executive",
            "Sales Development Representative",
            "Sales Manager",
            "Solutions Engineer",
        ],
    ),
    (
        "Customer Success",
        &[
            "Customer Success Manager",
            "Support Specialist",
            "Support Team Lead",
        ],
    ),
    (
        "Marketing",
        &[
            "Content Marketer",
            "Growth Marketer",
            "Brand Designer",
            "Marketing Manager",
        ],
    ),
    (
        "Finance",
        &["Accountant", "Financial Analyst", "Finance Manager"],
    ),
    (
        "People",
        &[
            "People Partner",
            "Recruiter",
            "Talent Acquisition Lead",
            "People Operations Specialist",
        ],
    ),
    (
        "Operations",
        &[
            "Operations Analyst",
            "Office Manager",
            "Procurement Specialist",
        ],
    ),
];

pub(crate) const TEAMS: &[&str] = &[
    "Platform",
    "Payments",
    "Growth",
    "Core",
    "Mobile",
    "Data",
    "Onboarding",
    "EMEA",
    "Americas",
    "APAC",
    "Brand",
    "Infrastructure",
];

/// (city, region code, country code, country, IANA timezone, holiday calendar, phone prefix)
pub(crate) const PLACES: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "London",
        "ENG",
        "GB",
        "United Kingdom",
        "Europe/London",
        "GB-ENG",
        "+44 20",
    ),
    (
        "Manchester",
        "ENG",
        "GB",
        "United Kingdom",
        "Europe/London",
        "GB-ENG",
        "+44 161",
    ),
    (
        "Madrid",
        "MD",
        "ES",
        "Spain",
        "Europe/Madrid",
        "ES-MD",
        "+34 91",
    ),
    (
        "Berlin",
        "BE",
        "DE",
        "Germany",
        "Europe/Berlin",
        "DE-BE",
        "+49 30",
    ),
    (
        "Paris",
        "IDF",
        "FR",
        "France",
        "Europe/Paris",
        "FR",
        "+33 1",
    ),
    (
        "Lisbon",
        "11",
        "PT",
        "Portugal",
        "Europe/Lisbon",
        "PT",
        "+351 21",
    ),
    (
        "Dublin",
        "D",
        "IE",
        "Ireland",
        "Europe/Dublin",
        "IE",
        "+353 1",
    ),
    (
        "Amsterdam",
        "NH",
        "NL",
        "Netherlands",
        "Europe/Amsterdam",
        "NL",
        "+31 20",
    ),
    (
        "New York",
        "NY",
        "US",
        "United States",
        "America/New_York",
        "US-NY",
        "+1 212",
    ),
    (
        "Toronto",
        "ON",
        "CA",
        "Canada",
        "America/Toronto",
        "CA-ON",
        "+1 416",
    ),
];

pub(crate) const STREETS: &[&str] = &[
    "Harbour Road",
    "Linden Avenue",
    "Old Mill Lane",
    "Station Street",
    "Orchard Way",
    "Kingfisher Close",
    "Market Square",
    "Riverside Walk",
    "Elm Grove",
    "Beacon Hill",
];

pub(crate) const LANGUAGES: &[&str] = &[
    "English",
    "Spanish",
    "German",
    "French",
    "Portuguese",
    "Dutch",
    "Italian",
    "Polish",
    "Japanese",
    "Mandarin",
    "Arabic",
    "Hindi",
];

pub(crate) const GENDERS: &[&str] = &["female", "male", "non-binary", "prefer not to say"];

pub(crate) const DIETS: &[&str] = &[
    "none",
    "vegetarian",
    "vegan",
    "pescatarian",
    "halal",
    "kosher",
];

pub(crate) const ALLERGIES: &[&str] = &["peanuts", "shellfish", "gluten", "lactose", "eggs"];

pub(crate) const CONTRACT_TYPES: &[&str] = &[
    "Full time",
    "Full time",
    "Full time",
    "Part time",
    "Contractor",
];

pub(crate) const PAYROLL_PROVIDERS: &[&str] = &["Deel", "Remote", "In-house payroll", "ADP"];

pub(crate) const LEAVING_REASONS: &[&str] = &[
    "resigned",
    "dismissed",
    "redundancy",
    "contractEnded",
    "other",
];

pub(crate) const TURNOVER_IMPACT: &[&str] = &["regrettable", "nonRegrettable"];

pub(crate) const BIOS: &[&str] = &[
    "Keeps the lights on and the coffee hot. Ask me about distributed systems or sourdough.",
    "Previously built logistics tools; now helping teams ship faster with fewer meetings.",
    "Happiest when a spreadsheet balances. Weekend climber and amateur astronomer.",
    "Connects customers with the right people. Speaks three languages badly and one well.",
    "Designs calm interfaces for busy people. Collects fountain pens and bad puns.",
];

/// Unknown extra fields that some records carry, as raw JSON members.
pub(crate) const EXTRA_PERSON_FIELDS: &[&str] = &[
    r#""customFields":{"shirtSize":"M","deskNumber":"4F-17"}"#,
    r#""pronouns":"they/them""#,
    r#""xHiringSource":{"channel":"referral","referrerId":null}"#,
    r#""onboardingChecklistProgress":0.75"#,
];

pub(crate) const EXTRA_ROLE_FIELDS: &[&str] = &[
    r#""level":"L4""#,
    r#""costCentre":{"code":"CC-210","name":"R&D"}"#,
];

/// Status values Humaans is not known to send, for the `unknown` seat state. `None` is
/// sent as `"status": null`.
pub(crate) const UNKNOWN_STATUSES: &[Option<&str>] =
    &[Some("suspended"), Some("archived"), Some("onLeave"), None];
