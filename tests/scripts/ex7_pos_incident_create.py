pos_incident_create("ZyPx6vF0", "Cancel position without the administrator", "Ivanov I", lambda err: alert(err.msg)) 
