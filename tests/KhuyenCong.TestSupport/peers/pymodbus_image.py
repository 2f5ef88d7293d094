#!/usr/bin/env python3
"""A pymodbus 3.0 TCP server that serves a register image, for the profile tests.

usage: pymodbus_image.py <port> <image.json>
image.json: {"unit": 1, "hr": {"addr": value, ...}, "ir": {...}, "co": {...}, "di": {...}} with 0-based addresses.
Addresses not in the image answer exception 02, as on a real device.
"""
import json
import logging
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.server import StartTcpServer
from pymodbus.transaction import ModbusSocketFramer

logging.basicConfig(level=logging.CRITICAL)

port, path = int(sys.argv[1]), sys.argv[2]
with open(path, encoding="utf-8") as f:
    image = json.load(f)

def block(name):
    values = {int(a): int(v) for a, v in image.get(name, {}).items()}
    return ModbusSparseDataBlock(values if values else {65535: 0})

slave = ModbusSlaveContext(hr=block("hr"), ir=block("ir"), co=block("co"), di=block("di"), zero_mode=True)
context = ModbusServerContext(slaves={image.get("unit", 1): slave}, single=False)
print("ready", flush=True)
StartTcpServer(context=context, address=("127.0.0.1", port), framer=ModbusSocketFramer, allow_reuse_address=True)
