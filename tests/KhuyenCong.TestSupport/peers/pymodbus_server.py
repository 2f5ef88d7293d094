#!/usr/bin/env python3
"""A pymodbus 3.0 server for the project's interoperability tests.

usage: pymodbus_server.py tcp <port> [manifest.json] | rtu <serial-device> [manifest.json]

Unit 1, all 0-based (zero_mode=True):
  holding registers 0..199 = their own address; input registers 0..199 = 1000 + address;
  coils 0..99 = address % 3 == 0; discrete inputs 0..99 = address % 2 == 0.
  Reading past address 199 (registers) or 99 (bits) gives exception 02.
Unit 2: typed values, encoded by pymodbus's own BinaryPayloadBuilder (not by the project's codec) in every word
  order, in holding and input registers from address 0. The layout (name, type, order, address, length, value) is
  written as JSON to the manifest file when one is given.
Other unit ids get no answer, like devices that are not on a bus.
"""
import json
import logging
import struct
import sys

from pymodbus.constants import Endian
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.payload import BinaryPayloadBuilder
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

logging.basicConfig(level=logging.CRITICAL)

# byteorder = bytes inside a register, wordorder = registers inside a value (pymodbus payload.py _pack_words).
ORDERS = {
    "ABCD": (Endian.Big, Endian.Big),
    "CDAB": (Endian.Big, Endian.Little),
    "BADC": (Endian.Little, Endian.Big),
    "DCBA": (Endian.Little, Endian.Little),
}
F32 = struct.unpack(">f", struct.pack(">f", 12345.678))[0]  # the value a float32 actually holds
VALUES = [
    ("Int16", "add_16bit_int", -12345),
    ("UInt16", "add_16bit_uint", 54321),
    ("Int32", "add_32bit_int", -123456789),
    ("UInt32", "add_32bit_uint", 3456789012),
    ("Int64", "add_64bit_int", -72623859790381056),       # 0xFEFDFCFBFAFA0000: exact as a double
    ("UInt64", "add_64bit_uint", 0xF102030405060000),     # above 2^63, exact as a double
    ("Float32", "add_32bit_float", F32),
    ("Float64", "add_64bit_float", -1234.5678),
]

registers, manifest = [], []
for type_name, add, value in VALUES:
    for order, (byteorder, wordorder) in ORDERS.items():
        b = BinaryPayloadBuilder(byteorder=byteorder, wordorder=wordorder)
        getattr(b, add)(value)
        regs = b.to_registers()
        manifest.append({"name": f"{type_name}_{order}", "type": type_name, "order": order,
                         "address": len(registers), "length": 0, "value": value})
        registers.extend(regs)
text = "KC-KILN-01"
b = BinaryPayloadBuilder(byteorder=Endian.Big, wordorder=Endian.Big)
b.add_string(text)
regs = b.to_registers()
manifest.append({"name": "String_ABCD", "type": "String", "order": "ABCD", "address": len(registers),
                 "length": len(regs), "value": text})
registers.extend(regs)

unit1 = ModbusSlaveContext(
    hr=ModbusSequentialDataBlock(0, list(range(200))),
    ir=ModbusSequentialDataBlock(0, [1000 + i for i in range(200)]),
    co=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(100)]),
    di=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(100)]),
    zero_mode=True,
)
unit2 = ModbusSlaveContext(
    hr=ModbusSequentialDataBlock(0, list(registers)),
    ir=ModbusSequentialDataBlock(0, list(registers)),
    co=ModbusSequentialDataBlock(0, [False]),
    di=ModbusSequentialDataBlock(0, [False]),
    zero_mode=True,
)
context = ModbusServerContext(slaves={1: unit1, 2: unit2}, single=False)

mode, where = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        json.dump(manifest, f)
print("ready", flush=True)
if mode == "tcp":
    from pymodbus.server import StartTcpServer
    StartTcpServer(context=context, address=("127.0.0.1", int(where)), framer=ModbusSocketFramer, allow_reuse_address=True)
else:
    from pymodbus.server import StartSerialServer
    StartSerialServer(context=context, framer=ModbusRtuFramer, port=where, baudrate=19200, bytesize=8, parity="N", stopbits=1, timeout=0.005)
