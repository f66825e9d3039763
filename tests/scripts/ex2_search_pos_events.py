import time
from pos_utils import *

filter = {
    "receipt_number": "1234567",
    "text": [StringFilter("Milk", SearchFlags.STARTS_WITH)],
    "cashiers": ("Ivanov I",)
}
search_pos_events(lambda event: alert(event.text), time.time() - 24 * 60 * 60, time.time(), filter) 
