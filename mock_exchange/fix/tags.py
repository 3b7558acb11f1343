"""FIX 4.4 tag numbers and MsgType values used by the venue (plain ints/bytes for speed)."""

from __future__ import annotations

from typing import Final

BEGIN_STRING: Final = 8
BODY_LENGTH: Final = 9
CHECKSUM: Final = 10
MSG_TYPE: Final = 35
SENDER_COMP_ID: Final = 49
TARGET_COMP_ID: Final = 56
MSG_SEQ_NUM: Final = 34
SENDING_TIME: Final = 52
POSS_DUP_FLAG: Final = 43
ORIG_SENDING_TIME: Final = 122
SENDER_SUB_ID: Final = 50
ON_BEHALF_OF_COMP_ID: Final = 115
ON_BEHALF_OF_SUB_ID: Final = 116
ON_BEHALF_OF_LOCATION_ID: Final = 144
DELIVER_TO_COMP_ID: Final = 128
DELIVER_TO_SUB_ID: Final = 129
DELIVER_TO_LOCATION_ID: Final = 145
TARGET_SUB_ID: Final = 57
TEXT: Final = 58

ENCRYPT_METHOD: Final = 98
HEART_BT_INT: Final = 108
RESET_SEQ_NUM_FLAG: Final = 141
TEST_REQ_ID: Final = 112
BEGIN_SEQ_NO: Final = 7
END_SEQ_NO: Final = 16
NEW_SEQ_NO: Final = 36
GAP_FILL_FLAG: Final = 123
REF_SEQ_NUM: Final = 45
REF_TAG_ID: Final = 371
REF_MSG_TYPE: Final = 372
SESSION_REJECT_REASON: Final = 373
BUSINESS_REJECT_REASON: Final = 380

AVG_PX: Final = 6
CL_ORD_ID: Final = 11
CUM_QTY: Final = 14
EXEC_ID: Final = 17
LAST_MKT: Final = 30
LAST_PX: Final = 31
LAST_QTY: Final = 32
ORDER_ID: Final = 37
ORDER_QTY: Final = 38
ORD_STATUS: Final = 39
ORD_TYPE: Final = 40
ORIG_CL_ORD_ID: Final = 41
PRICE: Final = 44
SIDE: Final = 54
SYMBOL: Final = 55
TIME_IN_FORCE: Final = 59
TRANSACT_TIME: Final = 60
CXL_REJ_REASON: Final = 102
EXEC_TYPE: Final = 150
LEAVES_QTY: Final = 151
CXL_REJ_RESPONSE_TO: Final = 434
MASS_STATUS_REQ_ID: Final = 584
MASS_STATUS_REQ_TYPE: Final = 585
TOT_NUM_REPORTS: Final = 911
LAST_RPT_REQUESTED: Final = 912
ORD_STATUS_REQ_ID: Final = 790
TRADE_DATE: Final = 75
SUBSCRIPTION_REQUEST_TYPE: Final = 263
PARTY_ID_SOURCE: Final = 447
PARTY_ID: Final = 448
PARTY_ROLE: Final = 452
NO_PARTY_IDS: Final = 453
NO_SIDES: Final = 552
TRADE_REQUEST_ID: Final = 568
TRADE_REQUEST_TYPE: Final = 569
PREVIOUSLY_REPORTED: Final = 570
TRADE_REPORT_ID: Final = 571
NO_DATES: Final = 580
TOT_NUM_TRADE_REPORTS: Final = 748
TRADE_REQUEST_RESULT: Final = 749
TRADE_REQUEST_STATUS: Final = 750
MASS_CANCEL_REQUEST_TYPE: Final = 530
MASS_CANCEL_RESPONSE: Final = 531
MASS_CANCEL_REJECT_REASON: Final = 532
TOTAL_AFFECTED_ORDERS: Final = 533


class MsgType:
    """MsgType(35) values."""

    HEARTBEAT: Final = b"0"
    TEST_REQUEST: Final = b"1"
    RESEND_REQUEST: Final = b"2"
    REJECT: Final = b"3"
    SEQUENCE_RESET: Final = b"4"
    LOGOUT: Final = b"5"
    LOGON: Final = b"A"
    EXECUTION_REPORT: Final = b"8"
    ORDER_CANCEL_REJECT: Final = b"9"
    NEW_ORDER_SINGLE: Final = b"D"
    ORDER_CANCEL_REQUEST: Final = b"F"
    ORDER_CANCEL_REPLACE_REQUEST: Final = b"G"
    ORDER_STATUS_REQUEST: Final = b"H"
    ORDER_MASS_CANCEL_REQUEST: Final = b"q"
    ORDER_MASS_CANCEL_REPORT: Final = b"r"
    ORDER_MASS_STATUS_REQUEST: Final = b"AF"
    TRADE_CAPTURE_REPORT_REQUEST: Final = b"AD"
    TRADE_CAPTURE_REPORT: Final = b"AE"
    TRADE_CAPTURE_REPORT_REQUEST_ACK: Final = b"AQ"
    BUSINESS_MESSAGE_REJECT: Final = b"j"


ADMIN_MSG_TYPES: Final = frozenset(
    {
        MsgType.HEARTBEAT,
        MsgType.TEST_REQUEST,
        MsgType.RESEND_REQUEST,
        MsgType.REJECT,
        MsgType.SEQUENCE_RESET,
        MsgType.LOGOUT,
        MsgType.LOGON,
    }
)

# Every MsgType(35) FIX 4.4 defines: others get Reject(373=11), these a BusinessMessageReject
# when the venue does not handle them.
FIX44_MSG_TYPES: Final = frozenset(
    value.encode()
    for value in [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "A",
        "B",
        "C",
        "D",
        "E",
        "F",
        "G",
        "H",
        "J",
        "K",
        "L",
        "M",
        "N",
        "P",
        "Q",
        "R",
        "S",
        "T",
        "V",
        "W",
        "X",
        "Y",
        "Z",
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
        "g",
        "h",
        "i",
        "j",
        "k",
        "l",
        "m",
        "n",
        "o",
        "p",
        "q",
        "r",
        "s",
        "t",
        "u",
        "v",
        "w",
        "x",
        "y",
        "z",
        "AA",
        "AB",
        "AC",
        "AD",
        "AE",
        "AF",
        "AG",
        "AH",
        "AI",
        "AJ",
        "AK",
        "AL",
        "AM",
        "AN",
        "AO",
        "AP",
        "AQ",
        "AR",
        "AS",
        "AT",
        "AU",
        "AV",
        "AW",
        "AX",
        "AY",
        "AZ",
        "BA",
        "BB",
        "BC",
        "BD",
        "BE",
        "BF",
        "BG",
        "BH",
    ]
)
