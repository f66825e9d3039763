with open("pos_detectors.xml") as detectors_config:
    pos_import_detector(detectors_config.read()) 
