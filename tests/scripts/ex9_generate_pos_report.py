import time
from pos_utils import ReportType

def report_ready(res):
    with open("pos_report.ods", "w") as report:
        report.write(res.zipped_report)

generate_pos_report(ReportType.VIOLATIONS_REPORT, str(int((time.time() - 24 * 60 * 60 * 10) * 1e6)), str(int(time.time() * 1e6)), report_ready) 
