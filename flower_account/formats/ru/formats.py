"""Russian dates as staff and customers write them, everywhere Django formats one (admin lists,
change pages, the date hierarchy): "4 декабря 2026, 14:05", "4 декабря", not Django's
"4 декабря 2026 г. 14:05" and "4 Декабрь" (its MONTH_DAY_FORMAT uses the nominative `F`).
Everything not set here comes from Django's own ru formats."""

DATE_FORMAT = "j E Y"
DATETIME_FORMAT = "j E Y, H:i"
MONTH_DAY_FORMAT = "j E"
YEAR_MONTH_FORMAT = "F Y"
