"""Customers' rights: requests, verification, access and export, rectify, erase."""
