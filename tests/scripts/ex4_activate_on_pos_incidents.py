activate_on_pos_incidents("", lambda incident: alert(incident.type_name)) 
