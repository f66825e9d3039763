import time

pos_process_archive("T1RuoVF7", time.time() - 24 * 60 * 60 * 2, time.time()) 
