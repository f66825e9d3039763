import time
from pos_utils import IncidentFlag
 
filter = {
    "flags": IncidentFlag.FILTER_CONFIRMED | IncidentFlag.FILTER_NONEMPTY_ESTIMATE,
    "limit": 20,
}
search_pos_incidents(lambda incident: alert(incident.type_name), time.time() - 24 * 60 * 60 * 2, time.time(), filter) 
